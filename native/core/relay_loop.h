// The relay loop: one thread, one io_uring. An ingress source (ring ingress
// by default: a TPACKET_V2 ring walked after a multishot poll; or a
// multishot recv into provided buffers) hands each frame to the forwarder,
// which parses it, looks it up and sends it to its outputs with SEND ops (or
// UDP_SEGMENT batches) that point into the same buffer; send completions
// free buffers in the same iteration. Commands arrive through an eventfd
// read posted in the same ring, kernel statistics through a timeout.
// This file pair owns the ring and the turn (submit, wait, reap, commands,
// timer, busy polling, coalescing); the parts it wires together each have
// their own: ingress_source.h, frame_forwarder.h, gso_batcher.h,
// send_queue.h, submitter.h, loop_rules.h.
// Plain C++ (no Node): the addon runs it on a thread it owns.
#pragma once
#include <liburing.h>

#include <cstdint>
#include <functional>
#include <memory>

#include "core/buffer_pool.h"
#include "core/command_queue.h"
#include "core/counters.h"
#include "core/frame_forwarder.h"
#include "core/gso_batcher.h"
#include "core/heartbeat.h"
#include "core/ingress_source.h"
#include "core/log_ring.h"
#include "core/loop_options.h"
#include "core/loop_rules.h"
#include "core/realtime_guard.h"
#include "core/ring_wait.h"
#include "core/send_queue.h"
#include "core/submitter.h"

namespace mcr {

class RelayLoop {
 public:
  RelayLoop(const LoopOptions& opts, std::shared_ptr<CounterBlock> counters, std::shared_ptr<LogRing> logs,
            std::shared_ptr<CommandQueue> commands, std::function<void()> notify);
  ~RelayLoop();
  RelayLoop(const RelayLoop&) = delete;
  RelayLoop& operator=(const RelayLoop&) = delete;

  // Both on the loop thread: setup() creates the ring there so SINGLE_ISSUER
  // and DEFER_TASKRUN bind to it. 0 or -errno; `failed_step` names the call.
  int setup(const char** failed_step);
  int run();
  const LoopInfo& info() const { return info_; }
  // Before run(): the shared block the loop beats in every turn (heartbeat.h).
  void set_heartbeat(std::shared_ptr<HeartbeatBlock> block) { heartbeat_ = std::move(block); }

 private:
  // top: the loop's own reap. mid_walk: after a submit of a batch of sends
  // queued during a walk, where commands and the timer must wait (they may
  // change the rule being sent).
  enum class ReapMode : uint8_t { top, mid_walk };

  static void reap_mid_walk(void* self) { static_cast<RelayLoop*>(self)->reap(ReapMode::mid_walk); }
  unsigned reap(ReapMode mode);
  // How many completions the top-of-turn io_uring_enter waits for: with
  // `count_sends` (PollPolicy::counts_sends()), one beyond the sends it
  // submits while those are all the sends in flight; else one.
  unsigned wait_count(bool count_sends) const;
  void run_deferred();
  // Applies the RealtimeGuard's verdict to this thread: the normal policy
  // while saturated, SCHED_FIFO again once calm; each logged, step-downs
  // counted (rt_stepdowns), the state now a gauge (rt_stepped_down).
  void step_realtime(RealtimeGuard::Action action, RealtimeGuard* guard);
  // Submits what the walk queued, then sleeps `ns` (--coalesce-us, or the
  // policy's moderation) so the next walk finds more frames. False when
  // stopping (no pause).
  bool pause(uint64_t ns);
  void arm_command_read();
  void arm_timer();
  // Once a turn: asks again for a request that found no SQE (the SQ still
  // full after a submit the kernel refused, e.g. EAGAIN): the command read
  // and the timer while running, the cancels while stopping. Lost for good,
  // they would leave the loop deaf to commands, without stats, or unable
  // to drain.
  void rearm_lost_requests();
  void on_commands();
  void on_timer();
  // The ingress's pause at the in-flight cap, and its resume walk; true
  // when that walk stopped at the burst cap (the next wait is bounded).
  bool update_backpressure();
  bool drained() const;
  // Stats ticks in a second (rounded up): the timer's once-a-second work.
  uint32_t ticks_per_second() const {
    return opts_.stats_interval_ms == 0 ? 1 : (1000 + opts_.stats_interval_ms - 1) / opts_.stats_interval_ms;
  }

  LoopOptions opts_;
  LoopInfo info_;
  std::shared_ptr<CounterBlock> counters_;
  std::shared_ptr<LogRing> logs_;
  std::shared_ptr<CommandQueue> commands_;
  std::function<void()> notify_;
  std::shared_ptr<HeartbeatBlock> heartbeat_;
  ErrorLogLimiter limiter_;

  io_uring ring_{};
  bool ring_ready_ = false;
  RingWait wait_;  // the turn's blocking submit-and-wait (kept out of iowait on Linux 6.15)
  // The parts, in dependence order: each only uses those above it, the
  // ingress source only through its interface, and the loop only through
  // the Submitter's mid-walk reap callback.
  BufferPool pool_;
  LoopRules rules_;
  Submitter submitter_;
  SendQueue sends_;
  GsoBatcher batcher_;      // used only with udp_gso and ring ingress
  FrameForwarder forwarder_;
  std::unique_ptr<IngressSource> ingress_;  // chosen in setup()

  bool command_armed_ = false;
  bool timer_armed_ = false;
  bool timer_cancel_queued_ = false;  // the stop's cancel of the timer has an SQE
  bool stopping_ = false;
  bool reaping_ = false;
  bool commands_ready_ = false;
  bool timer_fired_ = false;
  uint32_t ticks_ = 0;
  uint64_t command_value_ = 0;
  __kernel_timespec timer_interval_{};
};

}  // namespace mcr
