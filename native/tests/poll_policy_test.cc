// Tests for mcr::PollPolicy, the relay loop's choice of how to wait after a
// turn, driven with synthetic clock readings: off always sleeps; fixed
// polls for its time after the last frame and no longer; the adaptive
// default never polls, never pauses while idle or below three quarters
// busy (a paced stream at half load wakes it per frame), starts pausing
// after each walk (moderation) within a few windows once the loop is that
// busy with frames that come at 20 kpps or more (never slower: a pause
// would gather no second frame), keeps it while the loop stays busy,
// pauses only after a walk that forwarded frames, and between its two
// thresholds (of busy share, and of rate) keeps whatever it was doing (no
// flapping); on a contended core (the loop waits for its
// CPU) it stops moderating and holds off, longer each time it meets
// contention again, and resumes once the core is its own. The wait after
// a walk counts the walk's own sends always for off and fixed, and for the
// adaptive policy once the loop is busy.
#include <cstdint>

#include "core/poll_policy.h"
#include "tests/test_harness.h"

namespace {

using mcr::BusyPoll;
using mcr::PollPolicy;
using Next = mcr::PollPolicy::Next;

constexpr uint64_t kUs = 1000;
constexpr uint64_t kMs = 1000 * kUs;

// A loop fed a burst of `frames` every `gap` that takes `work` to forward,
// from `t` for `duration`. A sleeping loop wakes at the next burst; a
// pausing loop first sleeps the policy's pause_ns() after a walk, and its
// next walk takes every burst that arrived meanwhile; a polling loop turns
// every `poll_turn` and finds nothing until the burst is there.
struct Sim {
  PollPolicy policy;
  uint64_t t = 1 * kMs;  // the clock never starts at 0 in the loop
  uint64_t cpu = 0;      // the loop thread's CPU time: its turns, not its sleeps
  uint64_t wait = 0;     // its run delay: the time other threads ran while it was runnable
  uint64_t preempted = 0;  // of each working turn's wall time, this much ran other threads
  uint64_t preempted_moderating = 0;  // the same, only while the policy moderates
  Next next = Next::sleep;  // the last decision
  uint64_t poll_turns = 0;
  uint64_t pauses = 0;
  uint64_t walks = 0;  // turns that forwarded frames
  uint64_t walk_cost = 0;  // work of each walk beyond its frames' (its wake-up and sends)

  explicit Sim(BusyPoll mode, uint64_t fixed_ns = 0) : policy(mode, fixed_ns) {}

  void turn(uint64_t work, uint32_t frames) {
    const bool forwarded = frames > 0;
    const uint64_t woke = t;
    t += work;
    uint64_t lost = policy.moderating() ? preempted_moderating : preempted;
    if (!forwarded || lost > work) lost = 0;
    cpu += work - lost;
    wait += lost;
    next = policy.after_turn(woke, t, frames, [this] { return mcr::ThreadTimes{cpu, wait}; });
    if (next == Next::poll) ++poll_turns;
    if (next == Next::pause) ++pauses;
    if (forwarded) ++walks;
  }

  void stream(uint64_t duration, uint64_t gap, uint64_t work, uint32_t frames = 1, uint64_t poll_turn = 1 * kUs) {
    const uint64_t end = t + duration;
    uint64_t burst = t;
    while (burst < end) {
      if (next == Next::pause) t += policy.pause_ns();
      while (next == Next::poll && t + poll_turn <= burst) turn(poll_turn, 0);
      if (t < burst) t = burst;  // slept (or polled up to) the burst
      uint32_t bursts = 0;       // every burst there by now is walked
      while (burst <= t && burst < end) {
        ++bursts;
        burst += gap;
      }
      turn(walk_cost + work * bursts, frames * bursts);
    }
  }

  // No frames for `duration`: the 100 ms stats timer wakes a sleeping loop;
  // a polling loop turns every `poll_turn`.
  void idle(uint64_t duration, uint64_t poll_turn = 1 * kUs) {
    const uint64_t end = t + duration;
    while (t < end) {
      if (next == Next::poll) {
        turn(poll_turn, 0);
      } else {
        t += 100 * kMs;
        turn(2 * kUs, 0);
      }
    }
  }
};

TEST(poll_policy_off_never_polls_nor_pauses) {
  Sim sim(BusyPoll::off);
  CHECK(!sim.policy.timed());
  sim.stream(50 * kMs, 20 * kUs, 15 * kUs);  // 75 % busy
  CHECK_EQ(sim.poll_turns, 0u);
  CHECK_EQ(sim.pauses, 0u);
  CHECK_EQ(sim.policy.starts(), 0u);
}

TEST(poll_policy_fixed_polls_for_its_time_after_the_last_frame) {
  Sim sim(BusyPoll::fixed, 1000 * kUs);
  sim.stream(20 * kMs, 500 * kUs, 5 * kUs);  // 1 % busy: fixed polls anyway
  CHECK(sim.next == Next::poll);
  CHECK(sim.poll_turns > 10000u);
  CHECK_EQ(sim.pauses, 0u);
  const uint64_t last_frame = sim.t;
  while (sim.next == Next::poll && sim.t < last_frame + 10 * kMs) sim.turn(1 * kUs, 0);
  CHECK(sim.next == Next::sleep);
  CHECK(sim.t >= last_frame + 1000 * kUs);
  CHECK(sim.t <= last_frame + 1001 * kUs);
}

TEST(poll_policy_adaptive_sleeps_while_idle) {
  Sim sim(BusyPoll::adaptive);
  CHECK(sim.policy.timed());
  sim.idle(10'000 * kMs);
  CHECK_EQ(sim.poll_turns, 0u);
  CHECK_EQ(sim.pauses, 0u);
  CHECK_EQ(sim.policy.busy_permille(), 0u);
}

TEST(poll_policy_adaptive_wakes_per_frame_under_light_load) {
  // A burst every 200 us that takes 10 us: 5 % busy.
  Sim sim(BusyPoll::adaptive);
  sim.stream(1000 * kMs, 200 * kUs, 10 * kUs);
  CHECK_EQ(sim.pauses, 0u);
  CHECK_EQ(sim.policy.starts(), 0u);
  CHECK(sim.policy.busy_permille() >= 45u && sim.policy.busy_permille() <= 55u);
}

TEST(poll_policy_counts_sends_in_the_wait_once_the_loop_is_busy) {
  // off and fixed: always. adaptive: from kCountSendsPermille of busy share.
  CHECK(PollPolicy(BusyPoll::off, 0).counts_sends());
  CHECK(PollPolicy(BusyPoll::fixed, 1000 * kUs).counts_sends());
  Sim sim(BusyPoll::adaptive);
  CHECK(!sim.policy.counts_sends());  // no window closed yet: idle
  sim.stream(20 * kMs, 100 * kUs, 15 * kUs);  // 15 % busy
  CHECK(!sim.policy.counts_sends());
  sim.stream(20 * kMs, 100 * kUs, 22 * kUs);  // 22 % busy
  CHECK(sim.policy.counts_sends());
  sim.idle(1000 * kMs);
  CHECK(!sim.policy.counts_sends());
}

TEST(poll_policy_adaptive_wakes_per_frame_at_half_load) {
  // A frame every 40 us (25 000 a second) that takes 20 us: 50 % busy with
  // walks of one frame, a paced stream well within the core. A pause would
  // save little of its CPU and delay each frame by up to kPauseMaxNs.
  static_assert(500 < PollPolicy::kStartPermille);
  Sim sim(BusyPoll::adaptive);
  sim.stream(1000 * kMs, 40 * kUs, 20 * kUs);
  CHECK_EQ(sim.policy.starts(), 0u);
  CHECK_EQ(sim.pauses, 0u);
  CHECK_EQ(sim.poll_turns, 0u);
  CHECK(sim.policy.busy_permille() >= 450u && sim.policy.busy_permille() <= 550u);
}

TEST(poll_policy_adaptive_moderates_under_heavy_load_and_never_polls) {
  // A frame every 40 us (25 000 a second) that takes 34 us: 85 % busy.
  Sim sim(BusyPoll::adaptive);
  sim.stream(PollPolicy::kWindowNs + 100 * kUs, 40 * kUs, 34 * kUs);
  CHECK(!sim.policy.moderating());  // one busy window is not enough
  sim.stream(PollPolicy::kWindowNs + 100 * kUs, 40 * kUs, 34 * kUs);
  CHECK(sim.policy.moderating());
  CHECK_EQ(sim.policy.starts(), 1u);
  // Every walk of the stream is followed by a pause; the share stays the
  // work's, ~85 %, so moderation stays on, once. At 25 000 frames/s the
  // pause that gathers kTargetWalkFrames would be 320 us: it is capped, and
  // each walk takes the frames of its pause and of the walk before.
  CHECK_EQ(sim.policy.pause_ns(), PollPolicy::kPauseMaxNs);
  sim.pauses = 0;
  sim.walks = 0;
  sim.stream(100 * kMs, 40 * kUs, 34 * kUs);
  CHECK(sim.policy.moderating());
  CHECK_EQ(sim.policy.starts(), 1u);
  CHECK(sim.pauses + 1 >= sim.walks && sim.pauses <= sim.walks);
  // A walk about every 667 us: ~16.7 frames, 567 us of work, 100 of pause.
  CHECK(sim.walks >= 130u && sim.walks <= 170u);
  CHECK_EQ(sim.poll_turns, 0u);
  CHECK(sim.policy.busy_permille() >= 800u && sim.policy.busy_permille() <= 900u);
}

TEST(poll_policy_adaptive_pauses_only_after_a_walk_that_forwarded) {
  Sim sim(BusyPoll::adaptive);
  sim.stream(10 * kMs, 40 * kUs, 34 * kUs);
  CHECK(sim.policy.moderating());
  CHECK(sim.next == Next::pause);
  // The stream ends: a turn without frames (the stats timer) sleeps.
  sim.turn(2 * kUs, 0);
  CHECK(sim.next == Next::sleep);
  // The next window sees the idle loop and leaves the moderating state.
  sim.idle(300 * kMs);
  CHECK(!sim.policy.moderating());
  CHECK_EQ(sim.policy.busy_permille(), 0u);
  CHECK_EQ(sim.poll_turns, 0u);
}

TEST(poll_policy_adaptive_hysteresis_between_the_thresholds) {
  // 60 % busy: between kStopPermille and kStartPermille.
  static_assert(PollPolicy::kStopPermille < 600 && 600 < PollPolicy::kStartPermille);
  Sim from_sleep(BusyPoll::adaptive);
  from_sleep.stream(100 * kMs, 40 * kUs, 24 * kUs);
  CHECK_EQ(from_sleep.pauses, 0u);
  CHECK(!from_sleep.policy.moderating());

  Sim from_busy(BusyPoll::adaptive);
  from_busy.stream(10 * kMs, 40 * kUs, 34 * kUs);
  CHECK(from_busy.policy.moderating());
  from_busy.stream(100 * kMs, 40 * kUs, 24 * kUs);
  CHECK(from_busy.policy.moderating());
  CHECK_EQ(from_busy.policy.starts(), 1u);
  // Falling below kStopPermille ends it.
  from_busy.stream(100 * kMs, 40 * kUs, 2 * kUs);
  CHECK(!from_busy.policy.moderating());

  // The same for the rate: moderation that started at 22.2 kpps goes on at
  // 16.7 kpps (between kStopRatePps and kStartRatePps, and 75 % of the
  // start's rate), 60 % busy.
  static_assert(PollPolicy::kStopRatePps < 16'700 && 16'700 < PollPolicy::kStartRatePps);
  static_assert(PollPolicy::kStopRatePercent < 75);
  Sim slower(BusyPoll::adaptive);
  slower.stream(10 * kMs, 45 * kUs, 38 * kUs);
  CHECK(slower.policy.moderating());
  slower.stream(100 * kMs, 60 * kUs, 36 * kUs);
  CHECK(slower.policy.moderating());
  CHECK_EQ(slower.policy.starts(), 1u);
}

TEST(poll_policy_adaptive_keeps_moderating_when_pauses_halve_the_share) {
  // Each walk costs 24 us beyond its frames' 8 us each (its wake-up and
  // sends, as with many outputs): woken per frame every 40 us, 80 % busy.
  // Moderated, a walk of ~4 frames costs 55 us every ~155 us: 35 % busy,
  // less than half. It must not read that as the load having gone.
  Sim sim(BusyPoll::adaptive);
  sim.walk_cost = 24 * kUs;
  sim.stream(10 * kMs, 40 * kUs, 8 * kUs);
  CHECK(sim.policy.moderating());
  sim.walks = 0;
  sim.stream(100 * kMs, 40 * kUs, 8 * kUs);
  CHECK(sim.policy.moderating());
  CHECK_EQ(sim.policy.starts(), 1u);
  CHECK(sim.policy.busy_permille() >= 300u && sim.policy.busy_permille() <= 400u);
  CHECK(sim.walks <= 2500u / 3);  // 2 500 frames, 3 or more a walk
}

TEST(poll_policy_adaptive_stops_once_the_rate_falls_well_below_the_start) {
  // 100 kpps at 80 % busy woken per frame (6 us a walk, 2 us a frame):
  // moderated. At 58.8 kpps (59 % of the start's rate) waking per frame
  // costs 47 %, far from the start threshold: it stops, and stays
  // stopped, although the moderated share (~19 %) never fell below
  // kStopPermille.
  static_assert(59 < PollPolicy::kStopRatePercent);
  Sim sim(BusyPoll::adaptive);
  sim.walk_cost = 6 * kUs;
  sim.stream(10 * kMs, 10 * kUs, 2 * kUs);
  CHECK(sim.policy.moderating());
  sim.stream(3 * PollPolicy::kWindowNs, 17 * kUs, 2 * kUs);
  CHECK(!sim.policy.moderating());
  sim.pauses = 0;
  sim.stream(100 * kMs, 17 * kUs, 2 * kUs);
  CHECK_EQ(sim.pauses, 0u);
  CHECK_EQ(sim.policy.starts(), 1u);
  CHECK(sim.policy.busy_permille() >= 420u && sim.policy.busy_permille() <= 520u);
}

TEST(poll_policy_adaptive_does_not_count_preempted_time_as_work) {
  // Each frame's turn lasts 36 us of the 40 us gap, but other threads on
  // the shared core ran for 34 us of it: 5 % work, not 90 %.
  Sim sim(BusyPoll::adaptive);
  sim.preempted = 34 * kUs;
  sim.stream(100 * kMs, 40 * kUs, 36 * kUs);
  CHECK_EQ(sim.pauses, 0u);
  CHECK(sim.policy.busy_permille() <= 60u);
  CHECK(sim.policy.contended() > 0u);  // 85 % of the time waiting for the core
}

TEST(poll_policy_adaptive_stops_moderating_on_a_contended_core_and_holds_off) {
  // 85 % busy: moderating, on a core of its own.
  Sim sim(BusyPoll::adaptive);
  sim.stream(10 * kMs, 40 * kUs, 34 * kUs);
  CHECK(sim.policy.moderating());
  CHECK_EQ(sim.policy.contended(), 0u);
  sim.pauses = 0;
  sim.walks = 0;
  sim.stream(100 * kMs, 40 * kUs, 34 * kUs);
  const uint64_t uncontended = sim.pauses;  // one a walk
  CHECK(uncontended + 1 >= sim.walks && uncontended > 120u);
  // Another task wants the core whenever the loop pauses (its timer
  // wake-up waits behind it): the first whole window stops moderating.
  sim.preempted_moderating = 250 * kUs;
  sim.stream(2 * PollPolicy::kWindowNs + 200 * kUs, 40 * kUs, 34 * kUs);
  CHECK(!sim.policy.moderating());
  CHECK(sim.policy.contended() >= 1u);
  // While that lasts it tries again after 16, 32, 64, ... ms, one window
  // each: over a second, a handful of starts and few pauses.
  const uint64_t starts = sim.policy.starts();
  sim.pauses = 0;
  sim.stream(1000 * kMs, 40 * kUs, 34 * kUs);
  CHECK(sim.policy.starts() - starts <= 7u);
  CHECK(sim.pauses < uncontended * 10 / 4);  // of ~25 000 walks
  // The core is the loop's again: it moderates within a held-off second.
  sim.preempted_moderating = 0;
  sim.stream(1100 * kMs, 40 * kUs, 34 * kUs);
  CHECK(sim.policy.moderating());
  sim.pauses = 0;
  sim.stream(100 * kMs, 40 * kUs, 34 * kUs);
  CHECK(sim.pauses >= uncontended - 1);
}

TEST(poll_policy_adaptive_holds_off_at_most_a_second) {
  // Contended whenever it moderates, for ten seconds: the hold-off doubles
  // up to kHoldMaxNs and stays there, one moderating window a second.
  Sim sim(BusyPoll::adaptive);
  sim.stream(10 * kMs, 40 * kUs, 34 * kUs);
  sim.preempted_moderating = 250 * kUs;
  sim.stream(10'000 * kMs, 40 * kUs, 34 * kUs);
  const uint64_t starts = sim.policy.starts();
  CHECK(starts >= 10u && starts <= 20u);  // 7 doublings to a second, then ~one a second
  sim.stream(5'000 * kMs, 40 * kUs, 34 * kUs);
  CHECK(sim.policy.starts() - starts >= 4u && sim.policy.starts() - starts <= 6u);
}

TEST(poll_policy_adaptive_contended_windows_do_not_start_moderating) {
  // 76 % busy but the loop waits for its core on every wake-up (9 us of
  // each frame's 39.5 us turn): the busy share is the host's, not the
  // stream's.
  Sim sim(BusyPoll::adaptive);
  sim.preempted = 9 * kUs;
  sim.stream(200 * kMs, 40 * kUs, 39'500);
  CHECK_EQ(sim.policy.starts(), 0u);
  CHECK_EQ(sim.pauses, 0u);
  CHECK(sim.policy.contended() > 50u);
}

TEST(poll_policy_adaptive_one_dense_window_does_not_start_moderating) {
  // A loop that was preempted catches up: 1.6 ms at 95 % between light
  // stretches, again and again. Wherever the windows fall, at most one in
  // a row reaches the start threshold.
  Sim sim(BusyPoll::adaptive);
  for (int i = 0; i < 20; ++i) {
    sim.stream(1600 * kUs, 40 * kUs, 38 * kUs);
    sim.stream(3 * PollPolicy::kWindowNs, 200 * kUs, 10 * kUs);
  }
  CHECK_EQ(sim.policy.starts(), 0u);
  CHECK_EQ(sim.pauses, 0u);
}

TEST(poll_policy_adaptive_ignores_a_long_sleep_before_a_burst) {
  // A loop asleep for a second, then one big walk: the window spans the
  // sleep, so one burst does not start moderation.
  Sim sim(BusyPoll::adaptive);
  sim.idle(1000 * kMs);
  sim.t += 50 * kMs;  // asleep until the burst
  sim.turn(500 * kUs, 1);
  CHECK(sim.next == Next::sleep);
  CHECK_EQ(sim.policy.starts(), 0u);
}

TEST(poll_policy_adaptive_never_pauses_traffic_that_comes_in_bursts) {
  // Bursts of 8 frames every 40 us, 34 us of work each: 85 % busy, but
  // each wake-up already walks 8 frames together. A pause would add only a
  // timer's wake-up per walk.
  Sim sim(BusyPoll::adaptive);
  sim.stream(100 * kMs, 40 * kUs, 34 * kUs, 8);
  CHECK_EQ(sim.policy.starts(), 0u);
  CHECK_EQ(sim.pauses, 0u);
  CHECK(sim.policy.busy_permille() >= 800u && sim.policy.busy_permille() <= 900u);
}

TEST(poll_policy_adaptive_pause_gathers_the_target_walk_at_the_arrival_rate) {
  // Paced single frames, one every 5 us (200 000 a second), 4 us of work
  // each: 80 % busy with walks of one frame. Moderation pauses the time 8
  // frames take to arrive, 40 us; a walk then finds those and the ones
  // that arrived while the walk before was forwarding them (in steady state
  // k frames with 5 k = 4 k + 40: 40 frames, 160 us of work).
  Sim sim(BusyPoll::adaptive);
  sim.stream(10 * kMs, 5 * kUs, 4 * kUs);
  CHECK(sim.policy.moderating());
  CHECK_EQ(sim.policy.starts(), 1u);
  CHECK(sim.policy.pause_ns() >= 38 * kUs && sim.policy.pause_ns() <= 42 * kUs);
  sim.walks = 0;
  sim.stream(100 * kMs, 5 * kUs, 4 * kUs);
  CHECK(sim.policy.moderating());
  const uint64_t frames_per_walk = 20'000 / sim.walks;  // 100 ms of frames every 5 us
  CHECK(frames_per_walk >= 36u && frames_per_walk <= 44u);
  // One every 1 us: 8 us would gather 8, but the pause is never below
  // kPauseMinNs (its timer's wake-up costs more than a shorter pause saves).
  Sim fast(BusyPoll::adaptive);
  fast.stream(10 * kMs, 1 * kUs, 800);
  CHECK(fast.policy.moderating());
  CHECK_EQ(fast.policy.pause_ns(), PollPolicy::kPauseMinNs);
}

TEST(poll_policy_adaptive_never_moderates_below_the_start_rate) {
  // A frame every 100 us (10 000 a second) that takes 85 us: 85 % busy
  // with walks of one frame, the state that moderates at higher rates. A
  // pause of at most kPauseMaxNs would gather about one frame: walks would
  // stay at one frame, and each frame would wait for the pause.
  static_assert(10'000 < PollPolicy::kStopRatePps);
  Sim sim(BusyPoll::adaptive);
  sim.stream(1000 * kMs, 100 * kUs, 85 * kUs);
  CHECK_EQ(sim.policy.starts(), 0u);
  CHECK_EQ(sim.pauses, 0u);
  CHECK(sim.policy.busy_permille() >= 800u && sim.policy.busy_permille() <= 900u);
  // A moderated stream that slows to 10 kpps stops at the first window.
  Sim slows(BusyPoll::adaptive);
  slows.stream(10 * kMs, 40 * kUs, 34 * kUs);
  CHECK(slows.policy.moderating());
  slows.stream(PollPolicy::kWindowNs * 2 + 200 * kUs, 100 * kUs, 85 * kUs);
  CHECK(!slows.policy.moderating());
  slows.pauses = 0;
  slows.stream(100 * kMs, 100 * kUs, 85 * kUs);
  CHECK_EQ(slows.pauses, 0u);
  CHECK_EQ(slows.policy.starts(), 1u);
}

}  // namespace
