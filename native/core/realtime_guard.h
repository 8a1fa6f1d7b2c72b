// RealtimeGuard: keeps a real-time loop thread (--loop-rt-priority, under
// SCHED_FIFO) from holding its core while it is saturated. A real-time loop
// takes its core from every normal task the moment a frame wakes it, which
// is what removes the milliseconds it otherwise waits behind kernel threads
// (docs/performance.md). While it sleeps between bursts that costs the other
// tasks nothing; a loop whose input exceeds what it can forward never
// sleeps, and would leave the normal tasks of its core (the worker's own
// Node thread, mcrd, any other program) only the kernel's real-time
// throttling, 5 % of each second. Measured in the lab: flooded with its
// input's receive work on another core, a real-time loop ran 100 % of its
// core and a busy normal task beside it got 7 %. Saturated means the
// loop's demand for its core, its CPU time plus its run delay (time it was
// runnable but not running), over a window: under SCHED_FIFO the delay is
// nil and the demand is its CPU share; under the normal policy the delay
// shows what it would take. (Not a lack of sleeps: that flooded loop still
// slept 13 000 times a second, each time for a few microseconds, waiting
// for its sends. And with the input's receive work on the loop's own core
// the loop sleeps whenever its ring is empty, and a normal task there got
// half the core: no step down is needed, and none comes.) So: after
// kStepDownWindows windows in a row with a demand of kSaturatedPermille or
// more, the loop steps down to the normal policy (with its scheduler slice,
// as without the flag); after kStepUpWindows windows in a row under
// kCalmPermille, back up. The gap and the longer wait up keep it from
// flapping at the boundary.
//
// Pure: it sees only the clock readings and thread times the loop hands
// it, so native/tests/realtime_guard_test.cc drives it with synthetic ones;
// RelayLoop makes the scheduler calls.
#pragma once
#include <cstdint>

#include "core/thread_times.h"

namespace mcr {

class RealtimeGuard {
 public:
  enum class Action : uint8_t { none, step_down, step_up };

  static constexpr uint64_t kWindowNs = 10'000'000;
  // A window with this demand (per mille of its wall time) is saturated.
  // A loop that sleeps between bursts stays well under it: 54 % of a core
  // at half its zero-loss rate in the bench.
  static constexpr uint32_t kSaturatedPermille = 900;
  // 100 ms saturated in a row: the longest the loop holds its core from
  // the normal tasks before stepping down.
  static constexpr uint32_t kStepDownWindows = 10;
  // Back up after 500 ms in a row under this demand.
  static constexpr uint32_t kCalmPermille = 700;
  static constexpr uint32_t kStepUpWindows = 50;

  explicit RealtimeGuard(bool enabled) : enabled_(enabled) {}

  // Whether the loop runs real-time at all (and reads its clocks for this).
  bool enabled() const { return enabled_; }
  // Whether the loop is stepped down now.
  bool stepped_down() const { return stepped_down_; }
  // The step up was refused: the loop stays under the normal policy.
  void disable() { enabled_ = false; }
  // The step down was not made (the loop could not come back): the loop
  // stays real-time, and the guard stops.
  void stay_realtime() {
    enabled_ = false;
    stepped_down_ = false;
  }

  // One call per turn; `now_ns` the monotonic clock, `thread_times()` the
  // loop thread's CPU time and run delay (read only when a window closes,
  // at most 100 times a second).
  template <typename ThreadTimesFn>
  Action after_turn(uint64_t now_ns, ThreadTimesFn&& thread_times) {
    if (!enabled_) return Action::none;
    if (window_start_ns_ == 0) {
      window_start_ns_ = now_ns;
      window_times_ = thread_times();
      return Action::none;
    }
    const uint64_t elapsed = now_ns - window_start_ns_;
    if (elapsed < kWindowNs) return Action::none;
    const ThreadTimes now = thread_times();
    const ThreadTimes ran = now.since(window_times_);
    const uint64_t demand = (ran.cpu_ns + ran.wait_ns) * 1000 / elapsed;
    window_start_ns_ = now_ns;
    window_times_ = now;
    if (!stepped_down_) {
      run_ = demand >= kSaturatedPermille ? run_ + 1 : 0;
      if (run_ < kStepDownWindows) return Action::none;
      stepped_down_ = true;
      run_ = 0;
      return Action::step_down;
    }
    run_ = demand < kCalmPermille ? run_ + 1 : 0;
    if (run_ < kStepUpWindows) return Action::none;
    stepped_down_ = false;
    run_ = 0;
    return Action::step_up;
  }

 private:
  bool enabled_;
  bool stepped_down_ = false;
  uint32_t run_ = 0;  // windows in a row that count towards the next step
  uint64_t window_start_ns_ = 0;
  ThreadTimes window_times_;
};

}  // namespace mcr
