// The rules a relay loop forwards by and the outputs it sends to, on the
// loop thread: the rule table (looked up per datagram), the counter slot →
// output array (looked up per send completion) and the outputs of removed
// rules that still have sends in flight (closed when the last completes).
// Applies the Node thread's rule commands; knows nothing of io_uring.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "core/command_queue.h"
#include "core/counters.h"
#include "core/rule_table.h"

namespace mcr {

class LoopRules {
 public:
  explicit LoopRules(CounterBlock* counters) : counters_(counters), output_by_slot_(counters->output_slots(), nullptr) {}
  ~LoopRules() { discard_all(); }
  LoopRules(const LoopRules&) = delete;
  LoopRules& operator=(const LoopRules&) = delete;

  const Rule* match(uint32_t dst_addr, uint16_t dst_port, uint32_t src_addr, bool* excluded = nullptr) const {
    return table_.match(dst_addr, dst_port, src_addr, excluded);
  }
  const Rule* match6(const uint8_t* dst, uint16_t dst_port, const uint8_t* src, bool* excluded = nullptr) const {
    return table_.match6(dst, dst_port, src, excluded);
  }
  // The output with this counter slot: installed, or retired with sends in
  // flight; null once it is gone.
  Output* output(uint32_t slot) const { return output_by_slot_[slot]; }
  // Stats tick: every installed rule whose packets count grew since the last
  // tick gets last_rx_ms = now_ms (Unix ms) and last_rx_mono_ms = mono_ms
  // (CLOCK_MONOTONIC ms). O(rules), no syscall.
  void note_arrivals(uint64_t now_ms, uint64_t mono_ms);

  // add_rule, remove_rule or replace_rules (not stop): 0 or -errno.
  int apply(Command& cmd);
  // A retired output's last send completed: close it, free its slot.
  void destroy_retired(Output* out);
  // Shutdown: closes every output and gives back the counter slots of the
  // installed rules; outputs still retiring are closed without giving theirs
  // back. The loop calls it before it tears the ring down.
  void discard_all();

 private:
  void install_outputs(Rule& rule);
  void discard_rule(std::unique_ptr<Rule> rule);
  void retire_rule(std::unique_ptr<Rule> rule);

  CounterBlock* counters_;
  RuleTable table_;
  std::vector<Output*> output_by_slot_;
  std::vector<std::unique_ptr<Output>> retiring_;
};

}  // namespace mcr
