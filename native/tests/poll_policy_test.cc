// Tests for mcr::PollPolicy, the relay loop's choice between polling and
// sleeping after a turn, driven with synthetic clock readings: off never
// polls; fixed polls for its time after the last frame and no longer; the
// adaptive default never polls while idle or under light load, starts
// polling within a few windows once the loop is busy, keeps polling while
// it stays busy (its own empty polling turns do not count as work), stops
// within kIdleNs once the stream ends, and between its two thresholds
// keeps whatever it was doing (no flapping); on a contended core (the loop
// waits for its CPU) it stops polling and holds off, longer each time it
// meets contention again, and resumes once the core is its own.
#include <cstdint>

#include "core/poll_policy.h"
#include "tests/test_harness.h"

namespace {

using mcr::BusyPoll;
using mcr::PollPolicy;

constexpr uint64_t kUs = 1000;
constexpr uint64_t kMs = 1000 * kUs;

// A loop fed a burst every `gap` that takes `work` to forward, from `t`
// for `duration`. A sleeping loop wakes at the next burst; a polling loop
// turns every `poll_turn` and finds nothing until the burst is there.
struct Sim {
  PollPolicy policy;
  uint64_t t = 1 * kMs;  // the clock never starts at 0 in the loop
  uint64_t cpu = 0;      // the loop thread's CPU time: its turns, not its sleeps
  uint64_t wait = 0;     // its run delay: the time other threads ran while it was runnable
  uint64_t preempted = 0;  // of each working turn's wall time, this much ran other threads
  uint32_t poll_cpu_percent = 100;  // of each empty polling turn's wall time, the loop's share
  bool polling = false;  // the last decision
  uint64_t poll_turns = 0;
  uint64_t sleeps = 0;

  explicit Sim(BusyPoll mode, uint64_t fixed_ns = 0) : policy(mode, fixed_ns) {}

  void turn(uint64_t work, bool forwarded) {
    const uint64_t woke = t;
    t += work;
    const uint64_t ran = forwarded ? (work > preempted ? work - preempted : work) : work * poll_cpu_percent / 100;
    cpu += ran;
    wait += work - ran;
    polling = policy.after_turn(woke, t, forwarded, forwarded, [this] { return mcr::ThreadTimes{cpu, wait}; });
    if (polling) ++poll_turns; else ++sleeps;
  }

  void stream(uint64_t duration, uint64_t gap, uint64_t work, uint64_t poll_turn = 1 * kUs) {
    const uint64_t end = t + duration;
    uint64_t next = t;
    while (next < end) {
      if (polling) {
        while (polling && t + poll_turn <= next) turn(poll_turn, false);
      }
      if (t < next) t = next;  // slept (or polled up to) the burst
      turn(work, true);
      next += gap;
    }
  }

  // No frames for `duration`: the 100 ms stats timer wakes a sleeping loop;
  // a polling loop turns every `poll_turn`.
  void idle(uint64_t duration, uint64_t poll_turn = 1 * kUs) {
    const uint64_t end = t + duration;
    while (t < end) {
      if (polling) {
        turn(poll_turn, false);
      } else {
        t += 100 * kMs;
        turn(2 * kUs, false);
      }
    }
  }
};

TEST(poll_policy_off_never_polls) {
  Sim sim(BusyPoll::off);
  CHECK(!sim.policy.timed());
  sim.stream(50 * kMs, 20 * kUs, 15 * kUs);  // 75 % busy
  CHECK_EQ(sim.poll_turns, 0u);
  CHECK_EQ(sim.policy.starts(), 0u);
}

TEST(poll_policy_fixed_polls_for_its_time_after_the_last_frame) {
  Sim sim(BusyPoll::fixed, 1000 * kUs);
  sim.stream(20 * kMs, 500 * kUs, 5 * kUs);  // 1 % busy: fixed polls anyway
  CHECK(sim.polling);
  CHECK(sim.poll_turns > 10000u);
  const uint64_t last_frame = sim.t;
  while (sim.polling && sim.t < last_frame + 10 * kMs) sim.turn(1 * kUs, false);
  CHECK(!sim.polling);
  CHECK(sim.t >= last_frame + 1000 * kUs);
  CHECK(sim.t <= last_frame + 1001 * kUs);
}

TEST(poll_policy_adaptive_sleeps_while_idle) {
  Sim sim(BusyPoll::adaptive);
  CHECK(sim.policy.timed());
  sim.idle(10'000 * kMs);
  CHECK_EQ(sim.poll_turns, 0u);
  CHECK_EQ(sim.policy.busy_permille(), 0u);
}

TEST(poll_policy_adaptive_sleeps_under_light_load) {
  // A burst every 200 us that takes 10 us: 5 % busy.
  Sim sim(BusyPoll::adaptive);
  sim.stream(1000 * kMs, 200 * kUs, 10 * kUs);
  CHECK_EQ(sim.poll_turns, 0u);
  CHECK_EQ(sim.policy.starts(), 0u);
  CHECK(sim.policy.busy_permille() >= 45u && sim.policy.busy_permille() <= 55u);
}

TEST(poll_policy_adaptive_polls_under_heavy_load_and_keeps_polling) {
  // A burst every 100 us that takes 50 us: 50 % busy.
  Sim sim(BusyPoll::adaptive);
  sim.stream(PollPolicy::kWindowNs + 100 * kUs, 100 * kUs, 50 * kUs);
  CHECK(!sim.policy.polling());  // one busy window is not enough
  sim.stream(PollPolicy::kWindowNs + 100 * kUs, 100 * kUs, 50 * kUs);
  CHECK(sim.policy.polling());
  CHECK_EQ(sim.policy.starts(), 1u);
  // Polling turns between the bursts are no work: the share stays ~50 %,
  // so polling does not keep itself on, and the load does.
  sim.poll_turns = 0;
  sim.stream(100 * kMs, 100 * kUs, 50 * kUs);
  CHECK(sim.policy.polling());
  CHECK_EQ(sim.policy.starts(), 1u);
  CHECK(sim.poll_turns > 40000u);  // ~50 empty turns between bursts, 1000 bursts
  CHECK(sim.policy.busy_permille() >= 450u && sim.policy.busy_permille() <= 550u);
}

TEST(poll_policy_adaptive_stops_when_the_stream_ends) {
  Sim sim(BusyPoll::adaptive);
  sim.stream(10 * kMs, 100 * kUs, 50 * kUs);
  CHECK(sim.polling);
  const uint64_t last_frame = sim.t;
  while (sim.polling && sim.t < last_frame + 100 * kMs) sim.turn(1 * kUs, false);
  CHECK(!sim.polling);
  CHECK(sim.t <= last_frame + PollPolicy::kIdleNs + 1 * kUs);
  // The next window sees the idle loop and leaves the polling state.
  sim.idle(300 * kMs);
  CHECK(!sim.policy.polling());
  CHECK_EQ(sim.policy.busy_permille(), 0u);
}

TEST(poll_policy_adaptive_hysteresis_between_the_thresholds) {
  // 18 % busy: between kStopPermille and kStartPermille.
  static_assert(PollPolicy::kStopPermille < 180 && 180 < PollPolicy::kStartPermille);
  Sim from_sleep(BusyPoll::adaptive);
  from_sleep.stream(100 * kMs, 100 * kUs, 18 * kUs);
  CHECK_EQ(from_sleep.poll_turns, 0u);
  CHECK(!from_sleep.policy.polling());

  Sim from_poll(BusyPoll::adaptive);
  from_poll.stream(10 * kMs, 100 * kUs, 60 * kUs);
  CHECK(from_poll.policy.polling());
  from_poll.stream(100 * kMs, 100 * kUs, 18 * kUs);
  CHECK(from_poll.policy.polling());
  CHECK_EQ(from_poll.policy.starts(), 1u);
  // Falling below kStopPermille ends it.
  from_poll.stream(100 * kMs, 100 * kUs, 5 * kUs);
  CHECK(!from_poll.policy.polling());
}

TEST(poll_policy_adaptive_does_not_count_preempted_time_as_work) {
  // Each burst's turn lasts 60 us of the 100 us gap, but other threads on
  // the shared core ran for 55 us of it: 5 % work, not 60 %.
  Sim sim(BusyPoll::adaptive);
  sim.preempted = 55 * kUs;
  sim.stream(100 * kMs, 100 * kUs, 60 * kUs);
  CHECK_EQ(sim.poll_turns, 0u);
  CHECK(sim.policy.busy_permille() <= 60u);
  CHECK(sim.policy.contended() > 0u);  // 55 % of the time waiting for the core
}

TEST(poll_policy_adaptive_stops_polling_on_a_contended_core_and_holds_off) {
  // 60 % busy: polling, on a core of its own.
  Sim sim(BusyPoll::adaptive);
  sim.stream(10 * kMs, 100 * kUs, 60 * kUs);
  CHECK(sim.policy.polling());
  CHECK_EQ(sim.policy.contended(), 0u);
  sim.poll_turns = 0;
  sim.stream(100 * kMs, 100 * kUs, 60 * kUs);
  const uint64_t uncontended = sim.poll_turns;  // ~40 a burst, 1000 bursts
  CHECK(uncontended > 30000u);
  // Another task wants the core: the loop gets half of its empty polling
  // turns' time (the rest is run delay). The first window stops polling,
  // however busy the loop is.
  sim.poll_cpu_percent = 50;
  sim.stream(PollPolicy::kWindowNs + 200 * kUs, 100 * kUs, 60 * kUs);
  CHECK(!sim.policy.polling());
  CHECK(sim.policy.contended() >= 1u);
  // While the core stays shared it tries again after 16, 32, 64, ... ms,
  // one window each: over a second, a handful of starts and a few windows
  // of polling, not a core's worth.
  const uint64_t starts = sim.policy.starts();
  sim.poll_turns = 0;
  sim.stream(1000 * kMs, 100 * kUs, 60 * kUs);
  CHECK(sim.policy.starts() - starts <= 7u);
  CHECK(sim.poll_turns < uncontended / 4);
  // The core is the loop's again: it polls within a held-off second.
  sim.poll_cpu_percent = 100;
  sim.stream(1100 * kMs, 100 * kUs, 60 * kUs);
  CHECK(sim.policy.polling());
  sim.poll_turns = 0;
  sim.stream(100 * kMs, 100 * kUs, 60 * kUs);
  CHECK(sim.poll_turns > uncontended * 9 / 10);
}

TEST(poll_policy_adaptive_holds_off_at_most_a_second) {
  // Contended for ten seconds: the hold-off doubles up to kHoldMaxNs and
  // stays there, one polling window a second.
  Sim sim(BusyPoll::adaptive);
  sim.stream(10 * kMs, 100 * kUs, 60 * kUs);
  sim.poll_cpu_percent = 50;
  sim.stream(10'000 * kMs, 100 * kUs, 60 * kUs);
  const uint64_t starts = sim.policy.starts();
  CHECK(starts >= 10u && starts <= 20u);  // 7 doublings to a second, then ~one a second
  sim.stream(5'000 * kMs, 100 * kUs, 60 * kUs);
  CHECK(sim.policy.starts() - starts >= 4u && sim.policy.starts() - starts <= 6u);
}

TEST(poll_policy_adaptive_contended_sleeping_windows_do_not_start_polling) {
  // 50 % busy but the loop waits for its core on every wake-up (30 us of
  // each burst's 80 us turn): the busy share is the host's, not the
  // stream's, and polling would only spin against the other tasks.
  Sim sim(BusyPoll::adaptive);
  sim.preempted = 30 * kUs;
  sim.stream(200 * kMs, 100 * kUs, 80 * kUs);
  CHECK_EQ(sim.policy.starts(), 0u);
  CHECK_EQ(sim.poll_turns, 0u);
  CHECK(sim.policy.contended() > 50u);
}

TEST(poll_policy_adaptive_one_dense_window_does_not_start_polling) {
  // A loop that was preempted catches up: 600 us at 80 % between light
  // stretches, again and again. Wherever the windows fall, at most one in
  // a row reaches the start threshold.
  Sim sim(BusyPoll::adaptive);
  for (int i = 0; i < 20; ++i) {
    sim.stream(600 * kUs, 50 * kUs, 40 * kUs);
    sim.stream(3 * PollPolicy::kWindowNs, 200 * kUs, 10 * kUs);
  }
  CHECK_EQ(sim.policy.starts(), 0u);
  CHECK_EQ(sim.poll_turns, 0u);
}

TEST(poll_policy_adaptive_ignores_a_long_sleep_before_a_burst) {
  // A loop asleep for a second, then one big walk: the window spans the
  // sleep, so one burst does not start polling.
  Sim sim(BusyPoll::adaptive);
  sim.idle(1000 * kMs);
  sim.t += 50 * kMs;  // asleep until the burst
  sim.turn(500 * kUs, true);
  CHECK(!sim.polling);
  CHECK_EQ(sim.policy.starts(), 0u);
}

}  // namespace
