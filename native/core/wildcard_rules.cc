// Wildcard rules: entries kept in precedence order, the walk, the overlap
// check. Only add/remove/clear change the vectors, on the loop thread
// between two datagrams, like the exact hash.
#include "core/wildcard_rules.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "core/rule_table.h"

namespace mcr {
namespace {

bool excludes_source(const Rule& rule, const uint8_t* src) {
  for (const Prefix& p : rule.excludes()) {
    if (prefix_contains(p, src)) return true;
  }
  return false;
}

uint32_t mask4(uint32_t len) { return len == 0 ? 0 : htonl(~0u << (32 - len)); }

// The IPv4 words of an entry's prefixes (wildcard_rules.h, Entry).
void fill_words(WildcardRules::Entry* e) {
  std::memcpy(&e->group4, e->group.b, 4);
  std::memcpy(&e->src4, e->src.b, 4);
  e->group_mask4 = mask4(e->group.len);
  e->src_mask4 = mask4(e->src.len);
}

}  // namespace

void WildcardRules::entries_of(const Rule& rule, std::vector<Entry>* out) {
  const uint32_t full = rule.family == 6 ? 128 : 32;
  Entry base;
  base.rule = &rule;
  if (rule.family == 6) std::memcpy(base.group.b, rule.dst6.b, 16);
  else std::memcpy(base.group.b, &rule.dst_addr, 4);
  base.group.len = static_cast<uint8_t>(rule.group_len != 0 ? rule.group_len : full);
  base.port = rule.dst_port;
  if (rule.sources().empty()) {
    // One entry: the single source address of an exact rule, or any.
    Entry e = base;
    const bool has_src = rule.family == 6 ? !rule.src6.any() : rule.src_addr != 0;
    if (has_src) {
      if (rule.family == 6) std::memcpy(e.src.b, rule.src6.b, 16);
      else std::memcpy(e.src.b, &rule.src_addr, 4);
      e.src.len = static_cast<uint8_t>(full);
    }
    e.rank = rank_of(e.src.len, e.group.len, e.port != 0);
    if (rule.family == 4) fill_words(&e);
    out->push_back(e);
    return;
  }
  for (const Prefix& p : rule.sources()) {
    Entry e = base;
    e.src = p;
    e.rank = rank_of(e.src.len, e.group.len, e.port != 0);
    if (rule.family == 4) fill_words(&e);
    out->push_back(e);
  }
}

const Rule* WildcardRules::match(uint8_t family, const uint8_t* dst, uint16_t port, const uint8_t* src,
                                 const Rule* exact_any, bool* excluded) const {
  // The exact hash's any-source rule: full group, exact port, any source.
  const uint32_t floor = rank_of(0, family == 6 ? 128 : 32, true);
  if (family == 4) {
    uint32_t d = 0;
    uint32_t s = 0;
    std::memcpy(&d, dst, 4);
    std::memcpy(&s, src, 4);
    for (const Entry& e : v4_) {
      if (exact_any != nullptr && e.rank <= floor) break;
      if (((d ^ e.group4) & e.group_mask4) != 0 || ((s ^ e.src4) & e.src_mask4) != 0) continue;
      if (e.port != 0 && e.port != port) continue;
      if (e.rule->sets && excludes_source(*e.rule, src)) {
        if (excluded != nullptr) *excluded = true;
        continue;
      }
      return e.rule;
    }
    return exact_any;
  }
  for (const Entry& e : v6_) {
    if (exact_any != nullptr && e.rank <= floor) break;
    if (e.port != 0 && e.port != port) continue;
    if (!prefix_contains(e.group, dst) || !prefix_contains(e.src, src)) continue;
    if (e.rule->sets && excludes_source(*e.rule, src)) {
      if (excluded != nullptr) *excluded = true;
      continue;
    }
    return e.rule;
  }
  return exact_any;
}

void WildcardRules::add(const Rule* rule) {
  std::vector<Entry> fresh;
  entries_of(*rule, &fresh);
  std::vector<Entry>& entries = rule->family == 6 ? v6_ : v4_;
  for (const Entry& e : fresh) {
    // After every entry of equal or higher rank: the vector stays sorted.
    auto at = std::upper_bound(entries.begin(), entries.end(), e,
                               [](const Entry& a, const Entry& b) { return a.rank > b.rank; });
    entries.insert(at, e);
  }
}

void WildcardRules::remove(const Rule* rule) {
  std::vector<Entry>& entries = rule->family == 6 ? v6_ : v4_;
  std::erase_if(entries, [rule](const Entry& e) { return e.rule == rule; });
}

int64_t WildcardRules::clash(const Rule& rule) const {
  std::vector<Entry> fresh;
  entries_of(rule, &fresh);
  const std::vector<Entry>& entries = rule.family == 6 ? v6_ : v4_;
  for (const Entry& e : fresh) {
    for (const Entry& x : entries) {
      if (x.rank == e.rank && x.port == e.port && x.group == e.group && x.src == e.src && x.rule != &rule)
        return x.rule->id;
    }
  }
  return -1;
}

}  // namespace mcr
