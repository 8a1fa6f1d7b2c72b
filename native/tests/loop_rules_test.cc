// Tests for mcr::LoopRules, the loop's side of rule commands: add installs a
// rule's outputs by counter slot and refuses a duplicate without touching
// the installed one; remove frees idle outputs at once but keeps an output
// with sends in flight (retired, socket open, slot held) until
// destroy_retired(); replace-all changes nothing when the new set conflicts
// with itself; stop is no rule command; discard_all closes everything.
#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <utility>
#include <vector>

#include "core/command_queue.h"
#include "core/counters.h"
#include "core/loop_rules.h"
#include "tests/frame_builder.h"
#include "tests/test_harness.h"

namespace {

using mcr::Command;
using mcr::CounterBlock;
using mcr::LoopRules;
using mcr::OutputCounter;
using mcr::Rule;
using mcr::RuleCounter;
using mcrtest::ipv4;

const uint32_t kGroup = htonl(ipv4(239, 1, 1, 1));
const uint32_t kOtherGroup = htonl(ipv4(239, 1, 1, 2));
constexpr uint16_t kPort = 5004;

bool fd_open(int fd) { return ::fcntl(fd, F_GETFD) != -1 || errno != EBADF; }

// A rule with claimed counter slots and one output per entry of `fds`
// (an eventfd stands in for a UDP socket; -1 for none).
std::unique_ptr<Rule> make_rule(CounterBlock& counters, uint32_t id, uint32_t dst, std::vector<int> fds) {
  auto rule = std::make_unique<Rule>();
  rule->id = id;
  rule->slot = static_cast<uint32_t>(counters.claim_rule_slot());
  rule->dst_addr = dst;
  rule->dst_port = kPort;
  for (int fd : fds) {
    auto out = std::make_unique<mcr::Output>();
    out->fd = fd;
    out->slot = static_cast<uint32_t>(counters.claim_output_slot());
    rule->outputs.push_back(std::move(out));
  }
  return rule;
}

Command add(std::unique_ptr<Rule> rule) {
  Command cmd;
  cmd.kind = Command::Kind::add_rule;
  cmd.rule = std::move(rule);
  return cmd;
}

Command remove(uint32_t id) {
  Command cmd;
  cmd.kind = Command::Kind::remove_rule;
  cmd.rule_id = id;
  return cmd;
}

bool output_slot_active(CounterBlock& counters, uint32_t slot) {
  return counters.output(slot, OutputCounter::state).load() != mcr::slot_free;
}

bool rule_slot_active(CounterBlock& counters, uint32_t slot) {
  return counters.rule(slot, RuleCounter::state).load() != mcr::slot_free;
}

TEST(loop_rules_add_installs_outputs_by_slot) {
  CounterBlock counters(8, 8);
  LoopRules rules(&counters);
  auto rule = make_rule(counters, 1, kGroup, {-1, -1});
  const Rule* raw = rule.get();
  mcr::Output* first = rule->outputs[0].get();
  mcr::Output* second = rule->outputs[1].get();
  Command cmd = add(std::move(rule));
  CHECK_EQ(rules.apply(cmd), 0);
  CHECK(rules.match(kGroup, kPort, 0) == raw);
  CHECK(rules.output(first->slot) == first);
  CHECK(rules.output(second->slot) == second);
}

TEST(loop_rules_duplicate_add_is_refused_and_freed) {
  CounterBlock counters(8, 8);
  LoopRules rules(&counters);
  auto rule = make_rule(counters, 1, kGroup, {-1});
  mcr::Output* kept = rule->outputs[0].get();
  Command first = add(std::move(rule));
  REQUIRE(rules.apply(first) == 0);
  const int fd = ::eventfd(0, EFD_CLOEXEC);
  REQUIRE(fd >= 0);
  auto dup = make_rule(counters, 2, kGroup, {fd});  // same destination, other id
  const uint32_t dup_rule_slot = dup->slot;
  const uint32_t dup_output_slot = dup->outputs[0]->slot;
  Command second = add(std::move(dup));
  CHECK_EQ(rules.apply(second), -EEXIST);
  CHECK(!fd_open(fd));  // the refused rule is destroyed, its socket closed
  CHECK(!rule_slot_active(counters, dup_rule_slot));
  CHECK(!output_slot_active(counters, dup_output_slot));
  CHECK(rules.output(dup_output_slot) == nullptr);
  CHECK(rules.output(kept->slot) == kept);
}

TEST(loop_rules_remove_frees_idle_outputs_at_once) {
  CounterBlock counters(8, 8);
  LoopRules rules(&counters);
  const int fd = ::eventfd(0, EFD_CLOEXEC);
  REQUIRE(fd >= 0);
  auto rule = make_rule(counters, 7, kGroup, {fd});
  const uint32_t rule_slot = rule->slot;
  const uint32_t output_slot = rule->outputs[0]->slot;
  Command cmd = add(std::move(rule));
  REQUIRE(rules.apply(cmd) == 0);
  Command unknown = remove(8);
  CHECK_EQ(rules.apply(unknown), -ENOENT);
  Command known = remove(7);
  CHECK_EQ(rules.apply(known), 0);
  CHECK(rules.match(kGroup, kPort, 0) == nullptr);
  CHECK(rules.output(output_slot) == nullptr);
  CHECK(!fd_open(fd));
  CHECK(!rule_slot_active(counters, rule_slot));
  CHECK(!output_slot_active(counters, output_slot));
}

TEST(loop_rules_remove_keeps_an_output_with_sends_in_flight) {
  CounterBlock counters(8, 8);
  LoopRules rules(&counters);
  const int fd = ::eventfd(0, EFD_CLOEXEC);
  REQUIRE(fd >= 0);
  auto rule = make_rule(counters, 7, kGroup, {fd});
  const uint32_t rule_slot = rule->slot;
  mcr::Output* out = rule->outputs[0].get();
  const uint32_t output_slot = out->slot;
  out->inflight = 2;
  Command cmd = add(std::move(rule));
  REQUIRE(rules.apply(cmd) == 0);
  Command rm = remove(7);
  REQUIRE(rules.apply(rm) == 0);
  CHECK(rules.match(kGroup, kPort, 0) == nullptr);
  CHECK(!rule_slot_active(counters, rule_slot));  // the rule's own slot goes at once
  // Completions still find the output; its socket and slot stay.
  REQUIRE(rules.output(output_slot) == out);
  CHECK(out->retired);
  CHECK(fd_open(fd));
  CHECK(output_slot_active(counters, output_slot));
  out->inflight = 0;
  rules.destroy_retired(out);
  CHECK(rules.output(output_slot) == nullptr);
  CHECK(!fd_open(fd));
  CHECK(!output_slot_active(counters, output_slot));
}

TEST(loop_rules_conflicting_replace_changes_nothing) {
  CounterBlock counters(8, 8);
  LoopRules rules(&counters);
  auto old_rule = make_rule(counters, 1, kGroup, {-1});
  const Rule* old_raw = old_rule.get();
  Command first = add(std::move(old_rule));
  REQUIRE(rules.apply(first) == 0);
  Command replace;
  replace.kind = Command::Kind::replace_rules;
  replace.rules.push_back(make_rule(counters, 2, kOtherGroup, {-1}));
  replace.rules.push_back(make_rule(counters, 3, kOtherGroup, {-1}));  // same key as rule 2
  const uint32_t new_output_slot = replace.rules[0]->outputs[0]->slot;
  CHECK_EQ(rules.apply(replace), -EEXIST);
  CHECK(rules.match(kGroup, kPort, 0) == old_raw);
  CHECK(rules.match(kOtherGroup, kPort, 0) == nullptr);
  CHECK(!output_slot_active(counters, new_output_slot));
}

TEST(loop_rules_replace_swaps_the_whole_set) {
  CounterBlock counters(8, 8);
  LoopRules rules(&counters);
  auto old_rule = make_rule(counters, 1, kGroup, {-1});
  const uint32_t old_output_slot = old_rule->outputs[0]->slot;
  Command first = add(std::move(old_rule));
  REQUIRE(rules.apply(first) == 0);
  Command replace;
  replace.kind = Command::Kind::replace_rules;
  replace.rules.push_back(make_rule(counters, 2, kOtherGroup, {-1}));
  const Rule* new_raw = replace.rules[0].get();
  mcr::Output* new_out = replace.rules[0]->outputs[0].get();
  CHECK_EQ(rules.apply(replace), 0);
  CHECK(rules.match(kGroup, kPort, 0) == nullptr);
  CHECK(rules.match(kOtherGroup, kPort, 0) == new_raw);
  CHECK(rules.output(new_out->slot) == new_out);
  CHECK(rules.output(old_output_slot) == nullptr);
  CHECK(!output_slot_active(counters, old_output_slot));
}

TEST(loop_rules_stop_is_no_rule_command) {
  CounterBlock counters(8, 8);
  LoopRules rules(&counters);
  Command stop;
  CHECK_EQ(rules.apply(stop), -EINVAL);
}

TEST(loop_rules_discard_all_closes_every_output) {
  CounterBlock counters(8, 8);
  LoopRules rules(&counters);
  const int idle_fd = ::eventfd(0, EFD_CLOEXEC);
  const int busy_fd = ::eventfd(0, EFD_CLOEXEC);
  REQUIRE(idle_fd >= 0 && busy_fd >= 0);
  auto idle = make_rule(counters, 1, kGroup, {idle_fd});
  const uint32_t idle_slot = idle->outputs[0]->slot;
  auto busy = make_rule(counters, 2, kOtherGroup, {busy_fd});
  busy->outputs[0]->inflight = 1;
  const uint32_t busy_slot = busy->outputs[0]->slot;
  Command a = add(std::move(idle));
  Command b = add(std::move(busy));
  REQUIRE(rules.apply(a) == 0);
  REQUIRE(rules.apply(b) == 0);
  Command rm = remove(2);  // retired: a send is still in flight
  REQUIRE(rules.apply(rm) == 0);
  rules.discard_all();
  CHECK(!fd_open(idle_fd));
  CHECK(!fd_open(busy_fd));
  CHECK(!output_slot_active(counters, idle_slot));
  // A retiring output's send never completes once the ring is gone; its slot
  // is not handed back (the counter block goes with the loop).
  CHECK(output_slot_active(counters, busy_slot));
  CHECK(rules.match(kGroup, kPort, 0) == nullptr);
}

}  // namespace
