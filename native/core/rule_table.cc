// Rule table bookkeeping: the two indexes (by id for commands, by
// destination key for packets) are kept in step here and nowhere else.
#include "core/rule_table.h"

#include <unistd.h>

#include <cerrno>

namespace mcr {

Output::~Output() {
  if (fd >= 0) ::close(fd);
}

// Another rule has the same (destination, port, source) in the rule's family.
bool RuleTable::taken(const Rule& rule) const {
  if (rule.family == 6) {
    auto found = by_key6_.find(Key6::of(rule.dst6.b, rule.dst_port));
    if (found == by_key6_.end()) return false;
    for (const Rule* r : found->second) {
      if (r->src6 == rule.src6) return true;
    }
    return false;
  }
  auto found = by_key_.find(key(rule.dst_addr, rule.dst_port));
  if (found == by_key_.end()) return false;
  for (const Rule* r : found->second) {
    if (r->src_addr == rule.src_addr) return true;
  }
  return false;
}

std::vector<Rule*>& RuleTable::bucket_for(const Rule& rule) {
  if (rule.family == 6) return by_key6_[Key6::of(rule.dst6.b, rule.dst_port)];
  return by_key_[key(rule.dst_addr, rule.dst_port)];
}

void RuleTable::unlink(const Rule* rule) {
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

int RuleTable::add(std::unique_ptr<Rule>& rule) {
  if (by_id_.count(rule->id) != 0) return -EEXIST;
  if (taken(*rule)) return -EEXIST;
  bucket_for(*rule).push_back(rule.get());
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
  return all;
}

const Rule* RuleTable::find(uint32_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second.get();
}

}  // namespace mcr
