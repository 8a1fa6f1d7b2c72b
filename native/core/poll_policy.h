// PollPolicy: after each turn of the relay loop, how the loop waits for the
// next: sleep in io_uring_enter until the next completion, poll (a
// non-blocking io_uring_enter next turn), or pause a moment first so more
// frames gather for the next walk. Pure: it sees only the clock readings
// the loop hands it, so native/tests/poll_policy_test.cc drives it with
// synthetic timings.
//
// Three modes (LoopOptions::busy_poll):
// - off: always sleep until the next frame.
// - fixed: poll until `fixed_ns` after the last turn that forwarded frames
//   (mcrd --busy-poll-us N): the core is spent whenever traffic flows, and
//   an idle core's slow wake-up (a halted vCPU) never delays a frame.
// - adaptive (the default): moderate while the loop is busy and its walks
//   are small at kStartRatePps or more, as adaptive interrupt moderation
//   does. Light traffic wakes the loop per frame (the lowest latency, and
//   what its work costs). Once
//   the loop's busy share over a short window (the thread's CPU time: its
//   walks, sends and syscalls, not its sleep nor time other threads took
//   on the core) stays at kStartPermille or more for two windows in a row
//   while its walks found fewer than kSmallWalkFrames frames on average,
//   each walk that forwarded frames is followed by a pause (after its sends
//   are submitted, so they do not wait): the frames of the pause are walked
//   and sent together, in fewer and fuller UDP_SEGMENT sends, for fewer
//   wake-ups. The pause is what gathers about kTargetWalkFrames frames at
//   the window's arrival rate, within kPauseMinNs..kPauseMaxNs. Below
//   kStopRatePercent of the rate it started at, kStopPermille, or
//   kStopRatePps, it wakes per frame again. Traffic that
//   arrives in bursts (a sender's own batches, microbursts) is never
//   paused: a loop woken per burst already walks the burst at once, and a
//   pause would only add a timer's wake-up per walk (a fixed 20 us pause
//   cost 30 % more CPU per datagram at half load: docs/performance-history.md,
//   "Moderation by walk size"). Evenly paced traffic (a media stream) near
//   the core's limit is where a pause pays: it lets the loop carry more
//   (zero-loss 195 kpps of 64 B singles, against 128 woken per frame).
//   Further below, a pause saves a fifth of the CPU and triples p50, so
//   the loop wakes per frame there (kStartPermille). An earlier default
//   polled instead of pausing in that state: it spent 85 % of a core at
//   half load.
//   A window in which the thread waited for its CPU (its run delay,
//   thread_times.h) kContendedPermille or more of the time says other
//   tasks want the core: there a pause can turn into a wait behind them, so
//   a contended window stops moderating and holds it off (kHoldMinNs,
//   doubling while moderating keeps meeting contention, up to kHoldMaxNs),
//   and counts for nothing towards a start.
// The policy also says whether the wait after a walk counts that walk's own
// sends (counts_sends(), RelayLoop::wait_count()): they complete inside the
// io_uring_enter that submits them, and a wait that ends on them costs one
// more turn per walk; adaptive keeps that turn while the loop has time to
// spare (a cheap look for the next frame of a burst), and counts the sends
// from kCountSendsPermille on.
#pragma once
#include <cstdint>

#include "core/thread_times.h"

namespace mcr {

enum class BusyPoll : uint8_t { off, fixed, adaptive };

class PollPolicy {
 public:
  // What the loop does before its next walk.
  enum class Next : uint8_t {
    sleep,  // block in io_uring_enter until a completion
    poll,   // a non-blocking io_uring_enter (fixed mode)
    pause,  // submit and reap, sleep pause_ns(), then walk (ring ingress: no wait) (adaptive, busy)
  };

  // The window the busy share is measured over: long enough to hold a few
  // bursts at the rates where it matters (2 ms is ~100 bursts of 8 at 400
  // kpps, and 20 frames at 10 kpps), short enough that moderation starts
  // within two windows (4 ms) of a rise in load.
  static constexpr uint64_t kWindowNs = 2'000'000;
  // Moderate when the loop was busy at least this share (per mille) of the
  // last two windows: only as the core nears what waking per frame can
  // carry. A pause adds up to kPauseMaxNs to a frame, and saves little
  // below that: evenly spaced 64 B singles at 39.9 kpps cost 45 % of a core
  // woken per frame and 36 % moderated, while the pauses raised p50 from
  // 24 to 91 us and p99 from 65 to 215 (the C recvmmsg relay: 30 and 131;
  // docs/performance.md, "Moderation only near saturation"). At 250, the
  // threshold before, a paced stream of 20 kpps already paid that.
  static constexpr uint32_t kStartPermille = 750;
  // Stop moderating when the arrival rate falls below this share (per
  // cent) of the rate at which moderation started: woken per frame at that
  // rate, the loop would be busy about that share of kStartPermille, well
  // below it, so it does not start again at once. Why the rate and not the
  // busy share: moderation makes each frame cheaper, by a fifth for single
  // sends (39.9 kpps of singles: 45 -> 36 % of a core) and by half when
  // each frame goes to 8 outputs (busy-poll.test.ts's paced stream: 65 ->
  // 34 %), so no one share can say what waking per frame would cost.
  // Stopping below a 40 % share flapped there: 190 starts in 3 s, 1.7
  // frames a turn instead of 5; at 30 % still 104 starts.
  static constexpr uint32_t kStopRatePercent = 70;
  // And whatever the rate, below this share: a loop that little busy has
  // nothing to gain from a pause.
  static constexpr uint32_t kStopPermille = 150;
  // From this busy share (per mille) on, the wait after a walk counts the
  // walk's own sends (counts_sends()). Below it the loop has time to spare,
  // and the one extra turn those sends would cause is a cheap look for the
  // next frame of a burst (at 10 kpps in bursts of 8 about 5 us less p50).
  // On this project's VM, with the bench's bursts of 8 (judged by which
  // way the loop went with thresholds of 10 and 20 %), the loop's share is
  // between 10 and 20 % at 10 kpps and below 20 % at 35 kpps (it keeps the
  // look there), and above 20 % from 100 kpps on, where counting saves one
  // io_uring_enter per walk (docs/performance-history.md, "One wait per walk").
  static constexpr uint32_t kCountSendsPermille = 200;
  // Moderation starts only while walks find fewer frames than this on
  // average: a loop woken per burst of 4 or more already sends them
  // together.
  static constexpr uint32_t kSmallWalkFrames = 4;
  // The pause aims at this many frames per walk: most of a UDP_SEGMENT
  // send's gain (one trip through the stack, one wake-up of the receiver
  // for 8 datagrams).
  static constexpr uint32_t kTargetWalkFrames = 8;
  // The pause's bounds. Its cost: a frame that arrives during the pause
  // waits for its end (on a VM also for the timer's wake-up, tens of us
  // more), so the longest pause is what the loop may add to a frame's
  // latency under moderation; measured in docs/performance-history.md,
  // "Moderation by walk size".
  static constexpr uint64_t kPauseMinNs = 20'000;
  static constexpr uint64_t kPauseMaxNs = 100'000;
  // Moderation starts only while frames arrive at kStartRatePps or more,
  // and stops below kStopRatePps. Slower than that, even the longest pause
  // gathers fewer than two frames: walks stay at one frame, so pausing
  // saves no send and no wake-up and only delays frames. On a noisy VM a
  // stream of 10 kpps can cost a quarter of the loop's time (a host's
  // steal counts as the thread's CPU time), and moderating it put 5-15 %
  // of its frames 64-256 us late: MCR's p99 at 10 kpps was 2-4x the C
  // recvmmsg relay's (docs/performance-history.md, "No moderation below 20 kpps").
  static constexpr uint64_t kStartRatePps = 20'000;
  static constexpr uint64_t kStopRatePps = 15'000;
  // A window in which the loop thread waited this share (per mille) of the
  // time for its CPU is contended: another task ran while the loop wanted
  // to. A kernel thread's moment (a kworker, an RCU callback) stays far
  // below it.
  static constexpr uint32_t kContendedPermille = 200;
  // After a contended window, no moderation for this long; each moderating
  // window that meets contention again doubles it, up to kHoldMaxNs; a
  // moderating window without contention brings it back to kHoldMinNs.
  static constexpr uint64_t kHoldMinNs = 16'000'000;
  static constexpr uint64_t kHoldMaxNs = 1'000'000'000;

  PollPolicy(BusyPoll mode, uint64_t fixed_ns) : mode_(mode), fixed_ns_(fixed_ns) {}

  // Whether the policy reads the clock at all (off: never).
  bool timed() const { return mode_ != BusyPoll::off; }

  // One call per turn, after its work. `start_ns`: the clock when the turn
  // began; `end_ns`: the clock now; `frames`: frames the turn forwarded;
  // `thread_times()`: the loop thread's CPU time and run delay
  // (ThreadTimes), read only when a window closes (two syscalls, at most
  // ~500 times a second).
  template <typename ThreadTimesFn>
  Next after_turn(uint64_t start_ns, uint64_t end_ns, uint32_t frames, ThreadTimesFn&& thread_times) {
    const bool forwarded = frames > 0;
    if (forwarded) last_frame_ns_ = end_ns;
    switch (mode_) {
      case BusyPoll::off: return Next::sleep;
      case BusyPoll::fixed: return end_ns - last_frame_ns_ < fixed_ns_ ? Next::poll : Next::sleep;
      case BusyPoll::adaptive: break;
    }
    if (window_start_ns_ == 0) {
      window_start_ns_ = start_ns;
      window_times_ = thread_times();
    }
    if (forwarded) {
      ++window_walks_;
      window_frames_ += frames;
    }
    const uint64_t elapsed = end_ns - window_start_ns_;
    if (elapsed >= kWindowNs) close_window(elapsed, end_ns, thread_times());
    return moderating_ && forwarded ? Next::pause : Next::sleep;
  }

  // Whether the loop's wait after a walk should not end on that walk's own
  // send completions (RelayLoop::wait_count()): always for off and fixed
  // (off wakes per frame and nothing else; fixed polls while traffic
  // flows), for adaptive once the last window's busy share reached
  // kCountSendsPermille.
  bool counts_sends() const { return mode_ != BusyPoll::adaptive || busy_permille_ >= kCountSendsPermille; }
  // How long the loop pauses after a walk while moderating.
  uint64_t pause_ns() const { return pause_ns_; }
  // The loop's busy share of the last closed window, per mille (a gauge).
  uint32_t busy_permille() const { return busy_permille_; }
  // Whether the adaptive policy is in its moderating state.
  bool moderating() const { return moderating_; }
  // Times the adaptive policy switched moderation on (a counter).
  uint64_t starts() const { return starts_; }
  // Windows the adaptive policy found contended (a counter).
  uint64_t contended() const { return contended_; }

 private:
  void close_window(uint64_t elapsed, uint64_t now_ns, ThreadTimes now) {
    // The loop never spins in this mode, so its CPU time over the window is
    // its work: walks, sends and syscalls; neither its sleeps and pauses
    // nor time other threads took on a shared core.
    const ThreadTimes ran = now.since(window_times_);
    const uint64_t cpu = ran.cpu_ns;
    const uint64_t waited = ran.wait_ns;
    busy_permille_ = static_cast<uint32_t>(cpu * 1000 / elapsed);
    // Frames per walk that forwarded, and the pause that gathers
    // kTargetWalkFrames at this window's arrival rate (frames / elapsed).
    const uint64_t walks = window_walks_;
    const uint64_t frames = window_frames_;
    const bool small_walks = walks > 0 && frames < uint64_t{kSmallWalkFrames} * walks;
    if (frames > 0) {
      const uint64_t gather = kTargetWalkFrames * elapsed / frames;
      pause_ns_ = gather < kPauseMinNs ? kPauseMinNs : gather > kPauseMaxNs ? kPauseMaxNs : gather;
    }
    // Two busy windows of small walks in a row start moderation: on a
    // shared core a loop that was preempted catches up in one dense window,
    // which says nothing about the load.
    const uint64_t rate_pps = frames * 1'000'000'000 / elapsed;
    // Over this window and the one before: a moderated window holds a few
    // walks of many frames each, so one window's count is off by up to a
    // walk (at 16.7 kpps in walks of ~14: 15.3 kpps in one window, 21.8 in
    // the next), too coarse to compare with a share of the start's rate.
    const uint64_t two_window_rate_pps = (frames + prev_frames_) * 1'000'000'000 / (elapsed + prev_elapsed_);
    prev_frames_ = frames;
    prev_elapsed_ = elapsed;
    const bool busy = busy_permille_ >= kStartPermille && small_walks && rate_pps >= kStartRatePps;
    if (waited * 1000 >= uint64_t{kContendedPermille} * elapsed) {
      // Other tasks want this core: wake per frame, and do not moderate for a while.
      ++contended_;
      hold_until_ns_ = now_ns + hold_ns_;
      if (moderating_) {
        moderating_ = false;
        hold_ns_ = hold_ns_ * 2 < kHoldMaxNs ? hold_ns_ * 2 : kHoldMaxNs;
      }
      last_window_busy_ = false;
    } else {
      if (moderating_) hold_ns_ = kHoldMinNs;
      if (!moderating_ && busy && last_window_busy_ && now_ns >= hold_until_ns_) {
        moderating_ = true;
        start_rate_pps_ = rate_pps;
        ++starts_;
      } else if (moderating_ && (busy_permille_ < kStopPermille || rate_pps < kStopRatePps ||
                                 two_window_rate_pps * 100 < start_rate_pps_ * kStopRatePercent)) {
        moderating_ = false;
      }
      last_window_busy_ = busy;
    }
    window_start_ns_ = now_ns;
    window_times_ = now;
    window_walks_ = 0;
    window_frames_ = 0;
  }

  BusyPoll mode_;
  uint64_t fixed_ns_;
  uint64_t last_frame_ns_ = 0;
  uint64_t window_start_ns_ = 0;
  ThreadTimes window_times_;
  uint32_t busy_permille_ = 0;
  uint64_t window_walks_ = 0;   // turns that forwarded frames, this window
  uint64_t window_frames_ = 0;  // frames they forwarded
  uint64_t pause_ns_ = kPauseMinNs;
  bool moderating_ = false;
  uint64_t start_rate_pps_ = 0;  // the arrival rate of the window that started moderation
  uint64_t prev_frames_ = 0;     // frames of the window before the last
  uint64_t prev_elapsed_ = 0;    // and its length
  bool last_window_busy_ = false;
  uint64_t starts_ = 0;
  uint64_t contended_ = 0;
  uint64_t hold_ns_ = kHoldMinNs;
  uint64_t hold_until_ns_ = 0;
};

}  // namespace mcr
