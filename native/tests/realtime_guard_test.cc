// Tests for mcr::RealtimeGuard, driven with synthetic clocks and thread
// times: a real-time loop that sleeps between bursts (its demand for the
// core well under saturation, however long) never steps down; one whose
// demand stays at 90 % or more for 100 ms steps down, once, and stays down
// while its demand (CPU plus run delay, under the normal policy) stays
// high; it steps back up only after 500 ms in a row under 70 %, and a
// busier window in between starts that count again; a guard that is not
// enabled (the normal policy) does nothing, and one disabled after a
// refused step up does nothing more.
#include <cstdint>
#include <vector>

#include "core/realtime_guard.h"
#include "tests/test_harness.h"

namespace {

using mcr::RealtimeGuard;
using Action = mcr::RealtimeGuard::Action;

constexpr uint64_t kMs = 1'000'000;

// Feeds the guard turns of 1 ms for `ms`, the loop running `cpu` and
// waiting for its core `wait` (per mille of each); returns the actions it
// asked for, in order.
struct Sim {
  RealtimeGuard guard;
  uint64_t t = 5 * kMs;
  mcr::ThreadTimes times;
  explicit Sim(bool enabled) : guard(enabled) {}
  std::vector<Action> run(uint64_t ms, uint32_t cpu, uint32_t wait = 0) {
    std::vector<Action> out;
    for (uint64_t i = 0; i < ms; ++i) {
      t += kMs;
      times.cpu_ns += kMs * cpu / 1000;
      times.wait_ns += kMs * wait / 1000;
      const Action a = guard.after_turn(t, [this] { return times; });
      if (a != Action::none) out.push_back(a);
    }
    return out;
  }
};

TEST(realtime_guard_leaves_a_loop_that_sleeps_between_bursts_alone) {
  Sim sim(true);
  CHECK(sim.run(5000, 550).empty());  // half load: 54 % of a core in the bench
  CHECK(sim.run(5000, 890).empty());  // just under saturation, for seconds
  CHECK(!sim.guard.stepped_down());
}

TEST(realtime_guard_steps_down_after_100_ms_saturated_and_up_after_500_ms_calm) {
  Sim sim(true);
  sim.run(50, 300);
  CHECK(sim.run(95, 1000).empty());  // not yet: under 100 ms of saturated windows
  auto down = sim.run(20, 1000);
  REQUIRE(down.size() == 1u);
  CHECK(down[0] == Action::step_down);
  CHECK(sim.guard.stepped_down());
  // Under the normal policy beside a busy task: half the core, and
  // runnable the other half. Still saturated: it stays down.
  CHECK(sim.run(2000, 500, 500).empty());
  CHECK(sim.run(490, 500).empty());  // calm, but not for long enough
  auto up = sim.run(30, 500);
  REQUIRE(up.size() == 1u);
  CHECK(up[0] == Action::step_up);
  CHECK(!sim.guard.stepped_down());
}

TEST(realtime_guard_counts_calm_windows_in_a_row_only) {
  Sim sim(true);
  sim.run(200, 1000);
  REQUIRE(sim.guard.stepped_down());
  CHECK(sim.run(400, 500).empty());
  CHECK(sim.run(20, 500, 300).empty());  // two windows at 80 % demand restart the count
  CHECK(sim.run(450, 500).empty());      // 450 ms of calm since: not yet
  CHECK(sim.run(60, 500).size() == 1u);
}

TEST(realtime_guard_saturation_must_be_unbroken) {
  Sim sim(true);
  for (int i = 0; i < 20; ++i) {
    CHECK(sim.run(90, 1000).empty());  // 90 ms saturated...
    CHECK(sim.run(10, 100).empty());   // ...then a calm window: the count starts again
  }
  CHECK(!sim.guard.stepped_down());
}

TEST(realtime_guard_does_nothing_when_not_enabled_or_disabled) {
  Sim off(false);
  CHECK(off.run(1000, 1000).empty());
  Sim sim(true);
  sim.run(200, 1000);
  REQUIRE(sim.guard.stepped_down());
  sim.guard.disable();  // the step up was refused
  CHECK(sim.run(2000, 100).empty());
  CHECK(!sim.guard.enabled());
  CHECK(sim.guard.stepped_down());  // it stays under the normal policy
  Sim stay(true);
  stay.run(200, 1000);
  REQUIRE(stay.guard.stepped_down());
  stay.guard.stay_realtime();  // the step down was not made
  CHECK(!stay.guard.stepped_down());
  CHECK(stay.run(2000, 1000).empty());
}

}  // namespace
