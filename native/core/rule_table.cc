// Rule table bookkeeping: the two indexes (by id for commands, by
// destination key for packets) are kept in step here and nowhere else.
#include "core/rule_table.h"

#include <unistd.h>

#include <cerrno>

namespace mcr {

Output::~Output() {
  if (fd >= 0) ::close(fd);
}

int RuleTable::add(std::unique_ptr<Rule>& rule) {
  if (by_id_.count(rule->id) != 0) return -EEXIST;
  const uint64_t k = key(rule->dst_addr, rule->dst_port);
  auto found = by_key_.find(k);
  if (found != by_key_.end()) {
    for (const Rule* r : found->second) {
      if (r->src_addr == rule->src_addr) return -EEXIST;
    }
  }
  by_key_[k].push_back(rule.get());
  by_id_.emplace(rule->id, std::move(rule));
  return 0;
}

std::unique_ptr<Rule> RuleTable::remove(uint32_t id) {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return nullptr;
  std::unique_ptr<Rule> rule = std::move(it->second);
  by_id_.erase(it);
  const uint64_t k = key(rule->dst_addr, rule->dst_port);
  auto bucket = by_key_.find(k);
  if (bucket != by_key_.end()) {
    std::erase(bucket->second, rule.get());
    if (bucket->second.empty()) by_key_.erase(bucket);
  }
  return rule;
}

std::vector<std::unique_ptr<Rule>> RuleTable::take_all() {
  std::vector<std::unique_ptr<Rule>> all;
  all.reserve(by_id_.size());
  for (auto& [id, rule] : by_id_) all.push_back(std::move(rule));
  by_id_.clear();
  by_key_.clear();
  return all;
}

const Rule* RuleTable::find(uint32_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second.get();
}

}  // namespace mcr
