// What the kernel dropped on each interface after a sender handed it a
// packet: the root queue discipline's drops (`tc -s qdisc show`) and the
// device's transmit drops (`ip -s link`: TX dropped). A UDP sender is told
// of some (a full qdisc's NET_XMIT_DROP, as ENOBUFS with IP_RECVERR) and
// not of others: a qdisc that drops for congestion returns NET_XMIT_CN,
// which the kernel hands the sender as success (fq_codel, the default
// qdisc of systemd hosts, does when it drops from the sender's own flow,
// and CoDel's drops at dequeue reach no sender), and a link without
// carrier drops everything in its noop qdisc, also as success. mcrd reads
// these per output interface for `mcrctl stats` and the metrics
// (supervisor/net/output-drops.ts).
//
// Two dumps of the caller's network namespace on one blocking
// NETLINK_ROUTE socket: RTM_GETQDISC, keeping each interface's root
// (TC_H_ROOT), and RTM_GETLINK, keeping each link's tx_dropped, name, kind,
// the device it is stacked on and the one it is a port of (a VLAN's packets
// queue and drop on its parent too, a bond's or bridge's on its ports). Dumps, not
// gets by index: the kernel answers a single-qdisc get only with
// NLM_F_ECHO, and one dump serves every output interface. By index, in
// the caller's namespace (sysfs may show another namespace's devices under
// the same names). A multi-queue root (mq) sums its per-queue children
// when dumped, so its counts are the device's whole. The replies are
// parsed by parse_qdisc_dump and parse_link_dump, pure code over a byte
// buffer (native/tests/interface_drops_test.cc,
// native/fuzz/interface_drops_fuzz.cc).
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
  bool has_stats = false;   // the message carried queue statistics
  uint32_t drops = 0;       // gnet_stats_queue.drops (else tc_stats.drops): the kernel keeps 32 bits
};

struct LinkDrops {
  uint32_t ifindex = 0;
  uint64_t tx_dropped = 0;  // IFLA_STATS64 (else the 32-bit IFLA_STATS)
  std::string name;         // IFLA_IFNAME
  std::string kind;         // IFLA_LINKINFO's IFLA_INFO_KIND ("vlan", "macvlan", "veth", ...); empty for a physical device
  // IFLA_LINK: the device this one is stacked on (a VLAN's or macvlan's
  // parent; a veth's peer, which is not stacked: kind tells them apart).
  // 0 when there is none, or when IFLA_LINK_NETNSID says it lives in
  // another namespace (vlan, macvlan, macsec and current kernels' ipvlan
  // say so; ipvtap never does, which is why mcrd does not follow it). A
  // short IFLA_LINK or IFLA_MASTER leaves 0: the counts matter more than
  // the relation, and are kept.
  uint32_t link_ifindex = 0;
  uint32_t master_ifindex = 0;  // IFLA_MASTER: the bond, team or bridge this link is a port of; 0 for none
};

// What one dump buffer held besides its entries.
struct DumpParse {
  bool done = false;        // NLMSG_DONE: the dump is complete
  bool interrupted = false; // NLM_F_DUMP_INTR: the objects changed during the dump
  int error = 0;            // negative errno of an NLMSG_ERROR, or of a failed dump's NLMSG_DONE
  size_t malformed = 0;     // messages or attributes that did not fit; skipped
};

// Appends every RTM_NEWQDISC in data[0, len) whose parent is TC_H_ROOT to
// *roots (children and ingress qdiscs are skipped). Never reads past the buffer.
DumpParse parse_qdisc_dump(const uint8_t* data, size_t len, std::vector<RootQdisc>* roots);

// Appends every RTM_NEWLINK in data[0, len) that carries link statistics to
// *links (a link without them is skipped), with its name, kind, the device
// it is stacked on and the one it is a port of. Never reads past the buffer.
DumpParse parse_link_dump(const uint8_t* data, size_t len, std::vector<LinkDrops>* links);

struct InterfaceDrops {
  std::vector<RootQdisc> roots;
  std::vector<LinkDrops> links;
};

// Both dumps, each retried up to twice when interrupted. Errors: EAGAIN
// (still interrupted), ETIMEDOUT (no reply within a second), EBADMSG (a
// malformed reply), EMSGSIZE (a reply larger than the read buffer), or the
// kernel's errno for the dump.
SysError read_interface_drops(InterfaceDrops* out);

}  // namespace mcr
