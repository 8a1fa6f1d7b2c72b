// Rule commands on the loop thread. A rule is linked in or out between two
// datagrams; an output that sends still point at is kept (retired) until the
// last of them completes, so a completion never finds its output freed.
#include "core/loop_rules.h"

#include <cerrno>

namespace mcr {

int LoopRules::apply(Command& cmd) {
  switch (cmd.kind) {
    case Command::Kind::add_rule: {
      Rule* rule = cmd.rule.get();
      const int rc = table_.add(cmd.rule);
      if (rc != 0) {
        discard_rule(std::move(cmd.rule));
        return rc;
      }
      install_outputs(*rule);
      return 0;
    }
    case Command::Kind::remove_rule: {
      std::unique_ptr<Rule> rule = table_.remove(cmd.rule_id);
      if (!rule) return -ENOENT;
      retire_rule(std::move(rule));
      return 0;
    }
    case Command::Kind::replace_rules: {
      // Validate the whole new set first so a bad set changes nothing.
      RuleTable check;
      bool ok = true;
      for (auto& rule : cmd.rules) {
        auto probe = rule->match_copy();
        if (check.add(probe) != 0) ok = false;
      }
      if (!ok) {
        for (auto& rule : cmd.rules) discard_rule(std::move(rule));
        return -EEXIST;
      }
      for (auto& old : table_.take_all()) retire_rule(std::move(old));
      for (auto& rule : cmd.rules) {
        install_outputs(*rule);
        table_.add(rule);  // cannot fail: the set was checked above
      }
      return 0;
    }
    case Command::Kind::stop: break;
  }
  return -EINVAL;
}

void LoopRules::note_arrivals(uint64_t now_ms, uint64_t mono_ms) {
  table_.for_each([this, now_ms, mono_ms](const Rule& rule) {
    const uint64_t packets = counters_->rule(rule.slot, RuleCounter::packets).load(std::memory_order_relaxed);
    if (packets == rule.seen_packets) return;
    rule.seen_packets = packets;
    CounterBlock::set(counters_->rule(rule.slot, RuleCounter::last_rx_ms), now_ms);
    CounterBlock::set(counters_->rule(rule.slot, RuleCounter::last_rx_mono_ms), mono_ms);
  });
}

void LoopRules::discard_all() {
  for (auto& rule : table_.take_all()) discard_rule(std::move(rule));
  retiring_.clear();
}

void LoopRules::install_outputs(Rule& rule) {
  for (auto& out : rule.outputs) output_by_slot_[out->slot] = out.get();
}

void LoopRules::discard_rule(std::unique_ptr<Rule> rule) {
  // Never installed, or nothing in flight: close and free at once.
  for (auto& out : rule->outputs) {
    if (output_by_slot_[out->slot] == out.get()) output_by_slot_[out->slot] = nullptr;
    counters_->release_output_slot(out->slot);
  }
  counters_->release_rule_slot(rule->slot);
}

void LoopRules::retire_rule(std::unique_ptr<Rule> rule) {
  for (auto& out : rule->outputs) {
    if (out->inflight == 0) {
      output_by_slot_[out->slot] = nullptr;
      counters_->release_output_slot(out->slot);
      continue;  // unique_ptr closes the socket with the rule
    }
    // Sends still point at it: keep it until the last completes.
    out->retired = true;
    retiring_.push_back(std::move(out));
  }
  counters_->release_rule_slot(rule->slot);
}

void LoopRules::destroy_retired(Output* out) {
  const uint32_t slot = out->slot;
  for (auto it = retiring_.begin(); it != retiring_.end(); ++it) {
    if (it->get() != out) continue;
    retiring_.erase(it);
    break;
  }
  output_by_slot_[slot] = nullptr;
  counters_->release_output_slot(slot);
}

}  // namespace mcr
