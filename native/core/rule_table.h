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
#include "core/rule_prefix.h"
#include "core/stream_monitor.h"
#include "core/wildcard_rules.h"

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
  // Per-datagram destination (rules matching more than one stream): the
  // group kept from the datagram ("="), or mapped into `dest`'s prefix of
  // the rule's group_len (a "239.9.0.0/16" output), and the port kept
  // ("="). Such an output is never connected and never batched.
  enum class GroupMode : uint8_t { fixed, keep, map };
  GroupMode group_mode = GroupMode::fixed;
  bool keep_port = false;
  bool rewrites() const { return group_mode != GroupMode::fixed || keep_port; }
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

// A rule's source list (prefixes or addresses) and excluded sources.
struct SourceSets {
  std::vector<Prefix> sources;
  std::vector<Prefix> excludes;
};

struct Rule {
  uint32_t id = 0;
  uint32_t slot = 0;            // counter slot
  uint8_t family = 4;           // of the input: 4 uses dst_addr/src_addr, 6 dst6/src6
  // Rules that match more than one exact stream (wildcard_rules.h): the
  // input group's prefix length (0: the exact group); see also dst_port
  // (0 = any port) and `sets`. Beside `family`, in what was padding.
  uint8_t group_len = 0;
  // Some output rewrites the destination per datagram (Output::rewrites).
  bool rewrites = false;
  uint32_t dst_addr = 0;        // network byte order
  uint16_t dst_port = 0;        // host byte order
  uint32_t src_addr = 0;        // network byte order; 0 = any source
  Ipv6Addr dst6;
  Ipv6Addr src6;                // all zero = any source
  // Rules that match more than one exact stream (wildcard_rules.h): the
  // input group's prefix length (0: the exact group), port 0 = any port,
  // the source list (prefixes or addresses; empty: src_addr/src6 says) and
  // the excluded sources. Such a rule is looked up after the exact hash.
  // The lists live in their own allocation, null for rules without them,
  // so an exact rule grows by one pointer only (its lookup touches it, and
  // 100 000 of them are measured: docs/performance.md).
  std::unique_ptr<SourceSets> sets;
  static const std::vector<Prefix>& none() {
    static const std::vector<Prefix> empty;
    return empty;
  }
  const std::vector<Prefix>& sources() const { return sets ? sets->sources : none(); }
  const std::vector<Prefix>& excludes() const { return sets ? sets->excludes : none(); }
  SourceSets& sets_mut() {
    if (!sets) sets = std::make_unique<SourceSets>();
    return *sets;
  }
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

  // Whether the exact hash can hold the rule: one group, one port, at most
  // one source address, no exclusion.
  bool exact() const { return group_len == 0 && dst_port != 0 && sources().empty() && excludes().empty(); }
  // A rule with what this one matches and nothing else (no outputs): the
  // replace-all check builds a scratch table of these.
  std::unique_ptr<Rule> match_copy() const {
    auto r = std::make_unique<Rule>();
    r->id = id;
    r->family = family;
    r->dst_addr = dst_addr;
    r->dst_port = dst_port;
    r->src_addr = src_addr;
    r->dst6 = dst6;
    r->src6 = src6;
    r->group_len = group_len;
    if (sets) r->sets = std::make_unique<SourceSets>(*sets);
    return r;
  }
};

class RuleTable {
 public:
  // The rule for a datagram: a source-specific rule wins over an any-source
  // rule for the same destination, as (S,G) state wins over (*,G). The
  // exact hash answers first; only when it has no source-specific rule and
  // the table has wildcard rules (prefixes, lists, exclusions, any port)
  // are those searched, most specific first (wildcard_rules.h), so exact
  // rules cost what they did. `excluded`, when given, is set when a rule
  // would have matched but for its excludeSources (the drop's reason).
  const Rule* match(uint32_t dst_addr, uint16_t dst_port, uint32_t src_addr, bool* excluded = nullptr) const {
    auto it = by_key_.find(key(dst_addr, dst_port));
    const Rule* any_source = nullptr;
    if (it != by_key_.end()) {
      for (const Rule* r : it->second) {
        if (r->src_addr == src_addr) return r;
        if (r->src_addr == 0) any_source = r;
      }
    }
    if (wild_.empty4()) [[likely]] return any_source;
    return wild_.match(4, reinterpret_cast<const uint8_t*>(&dst_addr), dst_port,
                       reinterpret_cast<const uint8_t*>(&src_addr), any_source, excluded);
  }

  // The same for an IPv6 datagram: `dst` and `src` point at the 16 address
  // bytes in the frame.
  const Rule* match6(const uint8_t* dst, uint16_t dst_port, const uint8_t* src, bool* excluded = nullptr) const {
    const Rule* any_source = nullptr;
    if (!by_key6_.empty()) {
      auto it = by_key6_.find(Key6::of(dst, dst_port));
      if (it != by_key6_.end()) {
        for (const Rule* r : it->second) {
          if (std::memcmp(r->src6.b, src, 16) == 0) return r;
          if (r->src6.any()) any_source = r;
        }
      }
    }
    if (wild_.empty6()) return any_source;
    return wild_.match(6, dst, dst_port, src, any_source, excluded);
  }

  // 0 and the table owns the rule, or -EEXIST when the id is taken or
  // another rule matches the same (source, group, port) at the same
  // precedence (an overlap the precedence cannot order), and `rule` is left
  // with the caller; `clash`, when given, gets the other rule's id.
  int add(std::unique_ptr<Rule>& rule, uint32_t* clash = nullptr);
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
  // The id of a rule matching what `rule` matches at the same precedence, or -1.
  int64_t taken(const Rule& rule) const;
  int64_t taken_exact(uint8_t family, const uint8_t* dst, uint16_t port, const Prefix& src) const;
  std::vector<Rule*>& bucket_for(const Rule& rule);
  void unlink(const Rule* rule);
  std::unordered_map<uint64_t, std::vector<Rule*>> by_key_;
  std::unordered_map<Key6, std::vector<Rule*>, Key6Hash> by_key6_;
  std::unordered_map<uint32_t, std::unique_ptr<Rule>> by_id_;
  WildcardRules wild_;
};

}  // namespace mcr
