// Rule table: what the loop looks up for every datagram. A rule matches a
// (destination address, UDP port) and optionally one source address, and
// owns 1..N outputs. IPv4 and IPv6 rules live in two hashes: the IPv4 key
// stays one 64-bit word (the lookup costs what it cost before IPv6), the
// IPv6 key is the 16 address bytes and the port. Lookups run on the loop thread only and never allocate;
// changes arrive as whole Rule objects built on the TS thread and are linked
// in or out here, so applying one never stalls the other flows.
#pragma once
#include <netinet/in.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <unordered_map>
#include <vector>

#include "core/egress_socket.h"
#include "core/stream_monitor.h"

namespace mcr {

// One send target. Created (socket opened, bound, connected) on the TS thread;
// owned by the loop once installed. `inflight` counts sends not yet completed
// that point at it: a removed output is closed only when that reaches zero.
struct Output {
  int fd = -1;
  uint32_t slot = 0;            // counter slot, also its id in user_data
  // The destination, for unconnected sends: sockaddr_in or sockaddr_in6 by
  // family (sin6_scope_id set for a link-scoped IPv6 destination).
  InetAddress dest{};
  socklen_t dest_len = sizeof(sockaddr_in);
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
  // The Ethernet source of the frames this output sends (its interface's
  // MAC when the rule was built); has_own_mac false for an interface
  // without one. frame_forwarder.cc drops a frame carrying it as input.
  uint8_t own_mac[6] = {};
  bool has_own_mac = false;
  ~Output();
};

// An IPv6 address as the frame carries it; all zero (::, never a valid
// source) means "any source" in a rule.
struct Ipv6Addr {
  uint8_t b[16] = {};
  bool operator==(const Ipv6Addr& o) const { return std::memcmp(b, o.b, 16) == 0; }
  bool any() const { return *this == Ipv6Addr{}; }
  static Ipv6Addr from(const uint8_t* p) {
    Ipv6Addr a;
    std::memcpy(a.b, p, 16);
    return a;
  }
};

struct Rule {
  uint32_t id = 0;
  uint32_t slot = 0;            // counter slot
  uint8_t family = 4;           // of the input: 4 uses dst_addr/src_addr, 6 dst6/src6
  uint32_t dst_addr = 0;        // network byte order
  uint16_t dst_port = 0;        // host byte order
  uint32_t src_addr = 0;        // network byte order; 0 = any source
  Ipv6Addr dst6;
  Ipv6Addr src6;                // all zero = any source
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

  // The same for an IPv6 datagram: `dst` and `src` point at the 16 address
  // bytes in the frame.
  const Rule* match6(const uint8_t* dst, uint16_t dst_port, const uint8_t* src) const {
    if (by_key6_.empty()) return nullptr;
    auto it = by_key6_.find(Key6::of(dst, dst_port));
    if (it == by_key6_.end()) return nullptr;
    const Rule* any_source = nullptr;
    for (const Rule* r : it->second) {
      if (std::memcmp(r->src6.b, src, 16) == 0) return r;
      if (r->src6.any()) any_source = r;
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
  struct Key6 {
    uint64_t hi = 0;
    uint64_t lo = 0;
    uint16_t port = 0;
    bool operator==(const Key6& o) const { return hi == o.hi && lo == o.lo && port == o.port; }
    static Key6 of(const uint8_t* addr, uint16_t port) {
      Key6 k;
      std::memcpy(&k.hi, addr, 8);
      std::memcpy(&k.lo, addr + 8, 8);
      k.port = port;
      return k;
    }
  };
  struct Key6Hash {
    size_t operator()(const Key6& k) const {
      // splitmix64-style mixing: group addresses differ mostly in the low
      // bytes, which must reach the bucket index.
      uint64_t h = k.hi * 0x9e3779b97f4a7c15ull ^ (k.lo + k.port);
      h ^= h >> 31;
      h *= 0xbf58476d1ce4e5b9ull;
      h ^= h >> 29;
      return static_cast<size_t>(h);
    }
  };
  bool taken(const Rule& rule) const;
  std::vector<Rule*>& bucket_for(const Rule& rule);
  void unlink(const Rule* rule);
  std::unordered_map<uint64_t, std::vector<Rule*>> by_key_;
  std::unordered_map<Key6, std::vector<Rule*>, Key6Hash> by_key6_;
  std::unordered_map<uint32_t, std::unique_ptr<Rule>> by_id_;
};

}  // namespace mcr
