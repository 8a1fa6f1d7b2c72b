// Rule table bookkeeping: the two indexes (by id for commands, by
// destination key for packets) are kept in step here and nowhere else.
#include "core/rule_table.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace mcr {

Output::~Output() {
  if (fd >= 0) ::close(fd);
}

// The exact rule of the hash with this (destination, port, source), or -1.
int64_t RuleTable::taken_exact(uint8_t family, const uint8_t* dst, uint16_t port, const Prefix& src) const {
  if (family == 6) {
    auto found = by_key6_.find(Key6::of(dst, port));
    if (found == by_key6_.end()) return -1;
    for (const Rule* r : found->second) {
      if (src.len == 0 ? r->src6.any() : std::memcmp(r->src6.b, src.b, 16) == 0) return r->id;
    }
    return -1;
  }
  uint32_t addr = 0;
  uint32_t source = 0;
  std::memcpy(&addr, dst, 4);
  if (src.len != 0) std::memcpy(&source, src.b, 4);
  auto found = by_key_.find(key(addr, port));
  if (found == by_key_.end()) return -1;
  for (const Rule* r : found->second) {
    if (r->src_addr == source) return r->id;
  }
  return -1;
}

// Another rule matches one of the rule's (source, group, port) keys at the
// same precedence: for a key the exact hash could hold, the hash is asked;
// the wildcard entries always are (an exact rule may collide with a
// wildcard rule's entry, e.g. an excludeSources rule on the same stream).
int64_t RuleTable::taken(const Rule& rule) const {
  std::vector<WildcardRules::Entry> entries;
  WildcardRules::entries_of(rule, &entries);
  const uint32_t full = rule.family == 6 ? 128 : 32;
  for (const auto& e : entries) {
    if (e.group.len != full || e.port == 0 || (e.src.len != 0 && e.src.len != full)) continue;
    const int64_t other = taken_exact(rule.family, e.group.b, e.port, e.src);
    if (other >= 0) return other;
  }
  if (wild_.size() == 0) return -1;
  return wild_.clash(rule);
}

std::vector<Rule*>& RuleTable::bucket_for(const Rule& rule) {
  if (rule.family == 6) return by_key6_[Key6::of(rule.dst6.b, rule.dst_port)];
  return by_key_[key(rule.dst_addr, rule.dst_port)];
}

void RuleTable::unlink(const Rule* rule) {
  if (!rule->exact()) {
    wild_.remove(rule);
    return;
  }
  if (rule->family == 6) {
    auto bucket = by_key6_.find(Key6::of(rule->dst6.b, rule->dst_port));
    if (bucket == by_key6_.end()) return;
    std::erase(bucket->second, rule);
    if (bucket->second.empty()) by_key6_.erase(bucket);
    return;
  }
  auto bucket = by_key_.find(key(rule->dst_addr, rule->dst_port));
  if (bucket == by_key_.end()) return;
  std::erase(bucket->second, rule);
  if (bucket->second.empty()) by_key_.erase(bucket);
}

int RuleTable::add(std::unique_ptr<Rule>& rule, uint32_t* clash) {
  if (by_id_.count(rule->id) != 0) {
    if (clash != nullptr) *clash = rule->id;
    return -EEXIST;
  }
  const int64_t other = taken(*rule);
  if (other >= 0) {
    if (clash != nullptr) *clash = static_cast<uint32_t>(other);
    return -EEXIST;
  }
  if (rule->exact()) bucket_for(*rule).push_back(rule.get());
  else wild_.add(rule.get());
  by_id_.emplace(rule->id, std::move(rule));
  return 0;
}

std::unique_ptr<Rule> RuleTable::remove(uint32_t id) {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return nullptr;
  std::unique_ptr<Rule> rule = std::move(it->second);
  by_id_.erase(it);
  unlink(rule.get());
  return rule;
}

std::vector<std::unique_ptr<Rule>> RuleTable::take_all() {
  std::vector<std::unique_ptr<Rule>> all;
  all.reserve(by_id_.size());
  for (auto& [id, rule] : by_id_) all.push_back(std::move(rule));
  by_id_.clear();
  by_key_.clear();
  by_key6_.clear();
  wild_.clear();
  return all;
}

const Rule* RuleTable::find(uint32_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second.get();
}

}  // namespace mcr
