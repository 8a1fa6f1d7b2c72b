// The root queue discipline of an interface and the datagrams it dropped:
// what an output's sender is mostly never told. A qdisc that drops for
// congestion returns NET_XMIT_CN, which the kernel hands a UDP sender as
// success (fq_codel, the default qdisc of systemd hosts, does when it drops
// from the sender's own flow, and CoDel's drops at dequeue reach no
// sender), so MCR counts those datagrams as sent; the qdisc's own `drops`
// (what `tc -s qdisc show dev IF` prints) is where they show. mcrd reads it
// per output interface for `mcrctl stats` and the metrics
// (supervisor/net/output-drops.ts).
//
// One RTM_GETQDISC dump of the caller's network namespace on a blocking
// NETLINK_ROUTE socket bounded by a receive timeout, keeping each
// interface's root (TC_H_ROOT). A dump, because the kernel answers a
// single-qdisc get only with NLM_F_ECHO, which also announces the qdisc to
// every `tc monitor` as if it had changed. The replies are parsed by
// parse_qdisc_dump, pure code over a byte buffer (unit-tested in
// native/tests/qdisc_stats_test.cc). A multi-queue root (mq) sums its
// per-queue children when dumped, so its counts are the device's whole.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/sys_error.h"

namespace mcr {

struct RootQdisc {
  uint32_t ifindex = 0;
  std::string kind;         // TCA_KIND: "noqueue", "fq_codel", "mq", "tbf", ...
  bool has_stats = false;   // the reply carried queue statistics
  uint32_t drops = 0;       // gnet_stats_queue.drops: the kernel keeps 32 bits
  uint32_t overlimits = 0;  // gnet_stats_queue.overlimits
  uint32_t qlen = 0;        // packets queued at the time of the reply
};

struct QdiscParse {
  bool done = false;        // NLMSG_DONE: the dump is complete
  bool interrupted = false; // NLM_F_DUMP_INTR: qdiscs changed during the dump
  int error = 0;            // negative errno of an NLMSG_ERROR that is not an ack
  size_t malformed = 0;     // messages or attributes that did not fit; skipped
};

// Appends every RTM_NEWQDISC in data[0, len) whose parent is TC_H_ROOT to
// *roots (children and ingress qdiscs are skipped). Never reads past the
// buffer.
QdiscParse parse_qdisc_dump(const uint8_t* data, size_t len, std::vector<RootQdisc>* roots);

// The root qdisc of every interface in the caller's network namespace.
// ETIMEDOUT: the dump did not end within a second; EAGAIN: qdiscs changed
// during it (NLM_F_DUMP_INTR), ask again.
SysError read_root_qdiscs(std::vector<RootQdisc>* roots);

}  // namespace mcr
