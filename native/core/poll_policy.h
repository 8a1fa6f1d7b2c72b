// PollPolicy: after each turn of the relay loop, poll (a non-blocking
// io_uring_enter next turn) or sleep in io_uring_enter until the next
// completion. Pure: it sees only the clock readings the loop hands it, so
// native/tests/poll_policy_test.cc drives it with synthetic timings.
//
// Why poll at all: the input's receive work (RPS puts it on the relay core)
// runs on the loop's core, and an idle core (a halted vCPU, woken through
// the hypervisor; on bare metal a deep C-state) answers the next interrupt
// late enough that the kernel's 1000-packet input backlog overflows in a
// burst while the core is only about half busy (docs/mcrd.md, "Throughput
// settings"). Polling keeps the core awake, but spends all of it.
//
// Three modes (LoopOptions::busy_poll):
// - off: always sleep.
// - fixed: poll until `fixed_ns` after the last turn that forwarded frames
//   (mcrd --busy-poll-us N): the core is spent whenever traffic flows.
// - adaptive (the default): poll only while polling pays, as NAPI and
//   adaptive interrupt moderation do. The loop's busy share over a short
//   window says how close its core is to its limit: while it sleeps, the
//   thread's CPU time over the window (the walks and the sends it submits;
//   not its sleep, nor time other threads took on a shared core); while it
//   polls, that CPU time less the wall time of the empty polling turns
//   (so polling cannot keep itself on, nor keep spinning on a core other
//   threads want), at most the wall time of the turns that forwarded
//   frames or submitted sends. Above kStartPermille in two windows in a row the next window polls after work (bounded by
//   kIdleNs after the last frame); below kStopPermille it sleeps again.
//   Light traffic therefore costs what its work costs, and the core stays
//   awake only when it is busy enough for a sleeping core to lose frames.
//   And never on a contended core: a window in which the thread waited for
//   its CPU (its run delay, thread_times.h) kContendedPermille or more of
//   the time says other tasks want the core. Polling there keeps no core
//   awake (the others do) and only spends the loop's fair share: the
//   scheduler then makes the loop wait behind them, milliseconds on a
//   250 Hz kernel, where a thread that slept would have run at once on its
//   wake-up (measured: bench/latency-probe.ts, docs/performance.md
//   "Latency"). So a contended window stops polling and holds it off
//   (kHoldMinNs, doubling while polling keeps meeting contention, up to
//   kHoldMaxNs), and counts for nothing towards a start.
#pragma once
#include <cstdint>

#include "core/thread_times.h"

namespace mcr {

enum class BusyPoll : uint8_t { off, fixed, adaptive };

class PollPolicy {
 public:
  // The window the busy fraction is measured over: long enough to hold a
  // few bursts at the rates where it matters (2 ms is ~100 bursts of 8 at
  // 400 kpps, and 20 frames at 10 kpps), short enough that polling starts
  // within two windows (4 ms) of a rise in load.
  static constexpr uint64_t kWindowNs = 2'000'000;
  // Poll when the loop was busy at least this share (per mille) of the last
  // window. Set below the load at which a sleeping loop begins to lose
  // (the loop's own share was ~35-45 % there in this project's VM: the
  // rest of the core's work, the receive softirq, runs partly outside the
  // loop's turns), and well above what 10 % of the zero-loss rate costs
  // (~5 %), so light traffic never polls.
  static constexpr uint32_t kStartPermille = 250;
  // Stop polling when the share falls below this: polling makes each frame
  // cheaper (no wake-up), so the share drops once it is on; the gap between
  // start and stop keeps the policy from flapping at the boundary.
  static constexpr uint32_t kStopPermille = 120;
  // Within a polling window, go back to sleep once no frame came for this
  // long: the stream stopped or paused, and the next window would see it
  // anyway. At 10 kpps and above bursts are closer than this.
  static constexpr uint64_t kIdleNs = 500'000;
  // A window in which the loop thread waited this share (per mille) of the
  // time for its CPU is contended: another task ran while the loop wanted
  // to. A kernel thread's moment (a kworker, an RCU callback) stays far
  // below it; one other busy task on the core takes half the time from a
  // polling loop.
  static constexpr uint32_t kContendedPermille = 200;
  // After a contended window, no polling for this long; each polling window
  // that meets contention again doubles it, up to kHoldMaxNs (one polling
  // window a second on a core that stays shared); a polling window without
  // contention brings it back to kHoldMinNs.
  static constexpr uint64_t kHoldMinNs = 16'000'000;
  static constexpr uint64_t kHoldMaxNs = 1'000'000'000;

  PollPolicy(BusyPoll mode, uint64_t fixed_ns) : mode_(mode), fixed_ns_(fixed_ns) {}

  // Whether the policy reads the clock at all (off: never).
  bool timed() const { return mode_ != BusyPoll::off; }

  // One call per turn, after its work. `start_ns`: the clock when the
  // turn began (before io_uring_enter when the turn polled, so the sends
  // it submitted count; after it when the turn slept); `end_ns`: the clock
  // now; `worked`: the turn forwarded frames or submitted sends;
  // `forwarded`: it forwarded frames; `thread_times()`: the loop thread's
  // CPU time and run delay (ThreadTimes), read only when a window closes
  // (two syscalls, at most ~500 times a second). Returns whether the next
  // turn polls.
  template <typename ThreadTimesFn>
  bool after_turn(uint64_t start_ns, uint64_t end_ns, bool worked, bool forwarded, ThreadTimesFn&& thread_times) {
    if (forwarded) last_frame_ns_ = end_ns;
    switch (mode_) {
      case BusyPoll::off: return false;
      case BusyPoll::fixed: return end_ns - last_frame_ns_ < fixed_ns_;
      case BusyPoll::adaptive: break;
    }
    if (window_start_ns_ == 0) {
      window_start_ns_ = start_ns;
      window_times_ = thread_times();
    }
    if (end_ns > start_ns) (worked ? work_ns_ : empty_ns_) += end_ns - start_ns;
    const uint64_t elapsed = end_ns - window_start_ns_;
    if (elapsed >= kWindowNs) close_window(elapsed, end_ns, thread_times());
    return polling_ && end_ns - last_frame_ns_ < kIdleNs;
  }

  // The loop's busy share of the last closed window, per mille (a gauge).
  uint32_t busy_permille() const { return busy_permille_; }
  // Whether the adaptive policy is in its polling state.
  bool polling() const { return polling_; }
  // Times the adaptive policy switched polling on (a counter).
  uint64_t starts() const { return starts_; }
  // Windows the adaptive policy found contended (a counter).
  uint64_t contended() const { return contended_; }

 private:
  void close_window(uint64_t elapsed, uint64_t now_ns, ThreadTimes now) {
    // Sleeping, the thread's CPU time over the window is its work (the
    // sends it submitted included, sleep and time preempted by other
    // threads excluded). Polling, the CPU time includes the empty polling
    // turns: their wall time comes off (the wall time is at least their CPU
    // time, so what is left is at most the work), and the result is capped
    // by the working turns' wall time. On a shared core both wall times
    // include time other threads took: then the share comes out low, and
    // the loop stops polling unless it is truly busy, rather than spinning
    // against the other threads for a core it does not get.
    const uint64_t cpu = now.cpu_ns > window_times_.cpu_ns ? now.cpu_ns - window_times_.cpu_ns : 0;
    const uint64_t waited = now.wait_ns > window_times_.wait_ns ? now.wait_ns - window_times_.wait_ns : 0;
    uint64_t work = cpu;
    if (polling_) {
      work = cpu > empty_ns_ ? cpu - empty_ns_ : 0;
      if (work > work_ns_) work = work_ns_;
    }
    busy_permille_ = static_cast<uint32_t>(work * 1000 / elapsed);
    // Two busy windows in a row start polling: on a shared core a loop
    // that was preempted catches up in one dense window, which says
    // nothing about the load.
    const bool busy = busy_permille_ >= kStartPermille;
    if (waited * 1000 >= uint64_t{kContendedPermille} * elapsed) {
      // Other tasks want this core: sleep, and do not try again for a while.
      ++contended_;
      hold_until_ns_ = now_ns + hold_ns_;
      if (polling_) {
        polling_ = false;
        hold_ns_ = hold_ns_ * 2 < kHoldMaxNs ? hold_ns_ * 2 : kHoldMaxNs;
      }
      last_window_busy_ = false;
    } else {
      if (polling_) hold_ns_ = kHoldMinNs;
      if (!polling_ && busy && last_window_busy_ && now_ns >= hold_until_ns_) {
        polling_ = true;
        ++starts_;
      } else if (polling_ && busy_permille_ < kStopPermille) {
        polling_ = false;
      }
      last_window_busy_ = busy;
    }
    window_start_ns_ = now_ns;
    window_times_ = now;
    work_ns_ = 0;
    empty_ns_ = 0;
  }

  BusyPoll mode_;
  uint64_t fixed_ns_;
  uint64_t last_frame_ns_ = 0;
  uint64_t window_start_ns_ = 0;
  uint64_t work_ns_ = 0;   // wall time of the window's turns that worked
  uint64_t empty_ns_ = 0;  // and of those that did not
  ThreadTimes window_times_;
  uint32_t busy_permille_ = 0;
  bool polling_ = false;
  bool last_window_busy_ = false;
  uint64_t starts_ = 0;
  uint64_t contended_ = 0;
  uint64_t hold_ns_ = kHoldMinNs;
  uint64_t hold_until_ns_ = 0;
};

}  // namespace mcr
