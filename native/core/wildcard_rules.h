// The rules the exact hash cannot hold (rule_table.h): a source prefix or
// list, excluded sources, an input group prefix, or any port. Each rule is
// one entry per source (prefix or address; one "any" entry without a
// source list), kept sorted by precedence, most specific first:
//   1. the source's prefix length (an address is /32 or /128, any is /0),
//   2. then the group's prefix length (an exact group is /32 or /128),
//   3. then an exact port over any port.
// A lookup walks the entries in that order and takes the first that
// contains the datagram and does not exclude its source, so its cost grows
// with the number of wildcard entries (docs/performance.md has the
// figures); exact rules never reach it when the hash has their answer. Two
// entries of equal precedence that can hold one datagram have equal keys
// (equal-length prefixes that overlap are equal), so add() refuses that
// overlap instead of leaving the winner to chance.
#pragma once
#include <cstdint>
#include <vector>

#include "core/rule_prefix.h"

namespace mcr {

struct Rule;

class WildcardRules {
 public:
  struct Entry {
    const Rule* rule = nullptr;
    Prefix src;       // len 0: any source
    Prefix group;     // the input group's prefix (full length for one group)
    uint16_t port = 0;  // 0: any port
    uint32_t rank = 0;  // precedence, larger first (rank_of)
    // IPv4: the prefixes as words and masks (network order), so the walk
    // tests an entry with two XOR-AND compares instead of byte loops.
    uint32_t group4 = 0, group_mask4 = 0, src4 = 0, src_mask4 = 0;
  };

  static uint32_t rank_of(uint32_t src_len, uint32_t group_len, bool port_exact) {
    return (src_len << 9) | (group_len << 1) | (port_exact ? 1u : 0u);
  }
  // The entries of `rule` (any rule, exact ones too: for overlap checks).
  static void entries_of(const Rule& rule, std::vector<Entry>* out);

  bool empty4() const { return v4_.empty(); }
  bool empty6() const { return v6_.empty(); }
  size_t size() const { return v4_.size() + v6_.size(); }

  // The most specific rule for a datagram of `family` (addresses as the
  // frame carries them), or `exact_any` (the exact hash's any-source rule
  // for the destination, may be null) when no entry outranks it.
  // `excluded` (if not null) is set when an entry contained the datagram
  // but its rule excluded the source.
  const Rule* match(uint8_t family, const uint8_t* dst, uint16_t port, const uint8_t* src, const Rule* exact_any,
                    bool* excluded) const;

  void add(const Rule* rule);
  void remove(const Rule* rule);
  void clear() {
    v4_.clear();
    v6_.clear();
  }
  // The id of another rule with an entry of the same key as one of
  // `rule`'s, or -1.
  int64_t clash(const Rule& rule) const;

 private:
  std::vector<Entry> v4_;
  std::vector<Entry> v6_;
};

}  // namespace mcr
