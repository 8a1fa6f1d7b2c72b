// Rule table: what the loop looks up for every datagram. A rule matches a
// (destination address, UDP port) and optionally one source address, and
// owns 1..N outputs. Lookups run on the loop thread only and never allocate;
// changes arrive as whole Rule objects built on the TS thread and are linked
// in or out here, so applying one never stalls the other flows.
#pragma once
#include <netinet/in.h>

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "core/stream_monitor.h"

namespace mcr {

// One send target. Created (socket opened, bound, connected) on the TS thread;
// owned by the loop once installed. `inflight` counts sends not yet completed
// that point at it: a removed output is closed only when that reaches zero.
struct Output {
  int fd = -1;
  uint32_t slot = 0;            // counter slot, also its id in user_data
  sockaddr_in dest{};           // used for unconnected sends
  bool connected = false;       // false: pass dest with every send
  uint32_t inflight = 0;
  bool retired = false;
  bool gso_ok = true;           // false once a UDP_SEGMENT send failed here (no checksum offload, small MTU)
  // Loop-thread state of the retry that turns gso_ok back on about a second
  // after it went off (the MTU may be back up): the stats tick at which to
  // retry, and whether batching is on again only on trial (no batch accepted
  // since the retry), so a refused retry falls back without a new log line.
  uint32_t gso_retry_tick = 0;
  bool gso_retrying = false;
  // fd < 0: the output's interface was missing (ENODEV) or had no address
  // (EADDRNOTAVAIL) when the rule was built for an mcrd worker; each
  // datagram counts as this error until a rule sync rebuilds the output.
  int down_errno = 0;
  ~Output();
};

struct Rule {
  uint32_t id = 0;
  uint32_t slot = 0;            // counter slot
  uint32_t dst_addr = 0;        // network byte order
  uint16_t dst_port = 0;        // host byte order
  uint32_t src_addr = 0;        // network byte order; 0 = any source
  std::vector<std::unique_ptr<Output>> outputs;
  // The loop's open send batch for this rule (send_batch.h), or UINT32_MAX.
  // Mutable: lookups hand out const rules, and this is loop-thread scratch
  // state, not part of what the rule matches or where it sends.
  mutable uint32_t open_batch = UINT32_MAX;
  // Whether the loop's list of rules to flush at the end of this scan holds
  // this rule already (it stays listed after a full batch is flushed).
  mutable bool open_listed = false;
  // Payload analysis (the rule's `monitor` option), null when off: one
  // branch per datagram for rules without it.
  std::unique_ptr<StreamMonitor> monitor;
  // The packets count the loop's stats tick saw last, to notice datagrams
  // arriving (RuleCounter::last_rx_ms) without a clock read per datagram.
  mutable uint64_t seen_packets = 0;
};

class RuleTable {
 public:
  // The rule for a datagram: a source-specific rule wins over an any-source
  // rule for the same destination, as (S,G) state wins over (*,G).
  const Rule* match(uint32_t dst_addr, uint16_t dst_port, uint32_t src_addr) const {
    auto it = by_key_.find(key(dst_addr, dst_port));
    if (it == by_key_.end()) return nullptr;
    const Rule* any_source = nullptr;
    for (const Rule* r : it->second) {
      if (r->src_addr == src_addr) return r;
      if (r->src_addr == 0) any_source = r;
    }
    return any_source;
  }

  // 0 and the table owns the rule, or -EEXIST when the id or the
  // (dst, port, src) match is taken and `rule` is left with the caller.
  int add(std::unique_ptr<Rule>& rule);
  // The removed rule (the caller retires its outputs), or null when unknown.
  std::unique_ptr<Rule> remove(uint32_t id);
  // Every rule, emptying the table (for replace-all and shutdown).
  std::vector<std::unique_ptr<Rule>> take_all();
  size_t size() const { return by_id_.size(); }
  const Rule* find(uint32_t id) const;
  template <typename F>
  void for_each(F&& f) const {
    for (const auto& [id, rule] : by_id_) f(*rule);
  }

 private:
  static uint64_t key(uint32_t addr, uint16_t port) { return (uint64_t{addr} << 16) | port; }
  std::unordered_map<uint64_t, std::vector<Rule*>> by_key_;
  std::unordered_map<uint32_t, std::unique_ptr<Rule>> by_id_;
};

}  // namespace mcr
