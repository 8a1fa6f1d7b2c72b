// Relay loop implementation: the ring, the turn, commands and the timer.
// Invariants that keep it correct and fast:
// - Every SQE gets a tag in user_data (request_tag.h); a send's tag carries
//   its buffer id (or batch record) and output slot, so a completion needs
//   no lookup table beyond the slot array.
// - A buffer goes back to the kernel exactly once: when its frame is dropped,
//   or when the last of its sends completes (BufferPool reference counts).
// - Sends are submitted every `batch` SQEs and at the top of each iteration,
//   and their completions are reaped in the same iteration (the earlier Rust
//   design lost 3x throughput by deferring them).
// - No allocation, lock or syscall per packet: the only syscalls are the
//   batched io_uring_enter calls.
#include "core/relay_loop.h"

#include <sys/prctl.h>

#include <cerrno>
#include <ctime>

#include "core/multishot_ingress.h"
#include "core/packet_socket.h"
#include "core/poll_policy.h"
#include "core/process_control.h"
#include "core/realtime_guard.h"
#include "core/ring_ingress.h"
#include "core/thread_times.h"

namespace mcr {
namespace {

// About 1.2 MB of batch records per loop; enough for every datagram of a
// 16k-slot ring to be in flight in full batches.
constexpr uint32_t kMaxBatchRecords = 1024;

uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

uint32_t cq_entries_for(uint32_t ring_depth, uint32_t max_inflight) {
  uint32_t want = ring_depth * 4;
  if (want < max_inflight + ring_depth) want = max_inflight + ring_depth;
  uint32_t pow2 = 1;
  while (pow2 < want) pow2 <<= 1;
  return pow2;
}

}  // namespace

RelayLoop::RelayLoop(const LoopOptions& opts, std::shared_ptr<CounterBlock> counters, std::shared_ptr<LogRing> logs,
                     std::shared_ptr<CommandQueue> commands, std::function<void()> notify)
    : opts_(opts),
      counters_(std::move(counters)),
      logs_(std::move(logs)),
      commands_(std::move(commands)),
      notify_(std::move(notify)),
      limiter_(logs_.get(), &counters_->loop(LoopCounter::logs_dropped)),
      rules_(counters_.get()),
      submitter_(&ring_, opts_.batch, counters_.get(), &RelayLoop::reap_mid_walk, this),
      sends_(&submitter_, counters_.get(), &limiter_, &rules_, &pool_),
      batcher_(&submitter_, &sends_, &rules_, counters_.get(), logs_.get(), &limiter_),
      forwarder_(opts_.buffer_size, counters_.get(), &rules_, &pool_, &sends_) {}

RelayLoop::~RelayLoop() {
  rules_.discard_all();
  if (ring_ready_) io_uring_queue_exit(&ring_);
}

int RelayLoop::setup(const char** failed_step) {
  io_uring_params params{};
  params.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
  // Room for a completion of every send we allow in flight, plus the ring's
  // worth of other ops: an overflowing CQ is slow and ends multishot ops.
  params.cq_entries = cq_entries_for(opts_.ring_depth, opts_.max_inflight_sends);
  int rc = -EINVAL;
  if (opts_.defer_taskrun) {
    // DEFER_TASKRUN (Linux 6.1) runs completion work only when we ask for
    // completions, so receives are not interrupted by task work mid-batch.
    io_uring_params deferred = params;
    deferred.flags |= IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    rc = io_uring_queue_init_params(opts_.ring_depth, &ring_, &deferred);
    if (rc == 0) {
      info_.defer_taskrun = true;
      params = deferred;
    }
  }
  if (rc != 0) rc = io_uring_queue_init_params(opts_.ring_depth, &ring_, &params);
  if (rc != 0) {
    *failed_step = "io_uring_queue_init_params";
    return rc;
  }
  ring_ready_ = true;
  info_.sq_entries = params.sq_entries;
  info_.cq_entries = params.cq_entries;
  // Optional speed-up; failure is harmless (the ring's own fd is used).
  const bool ring_fd_registered = io_uring_register_ring_fd(&ring_) == 1;
  wait_.init(params.features, ring_fd_registered);
  info_.no_iowait = wait_.no_iowait();

  // The one place the ingress method is chosen; everything after this talks
  // to it through IngressSource.
  const IngressParts parts{&opts_, &ring_, &submitter_, &sends_, &forwarder_, &pool_, counters_.get(), &limiter_};
  const bool ring_ingress = opts_.ingress == Ingress::ring;
  if (ring_ingress) {
    ingress_ = std::make_unique<RingIngress>(parts);
  } else {
    ingress_ = std::make_unique<MultishotIngress>(parts);
  }
  if ((rc = ingress_->setup(failed_step)) != 0) return rc;
  sends_.set_ingress(ingress_.get());
  sends_.set_address_slots(ring_.sq.ring_entries);
  // Batches are closed at the end of a walk, and only the ring is walked.
  if (opts_.udp_gso && ring_ingress) {
    // Batches of two or more datagrams: half the ring in flight as batches
    // is the most there can be; beyond kMaxBatchRecords datagrams go one by one.
    const uint32_t records = pool_.count() / 2 < kMaxBatchRecords ? pool_.count() / 2 : kMaxBatchRecords;
    batcher_.init(records, counters_->output_slots(), ticks_per_second());
    forwarder_.set_batcher(&batcher_);
  }
  timer_interval_.tv_sec = opts_.stats_interval_ms / 1000;
  timer_interval_.tv_nsec = static_cast<long long>(opts_.stats_interval_ms % 1000) * 1000000;
  return 0;
}

void RelayLoop::arm_command_read() {
  io_uring_sqe* sqe = submitter_.next_sqe();
  if (sqe == nullptr) return;
  io_uring_prep_read(sqe, commands_->event_fd(), &command_value_, sizeof(command_value_), 0);
  sqe->user_data = tag(Op::command);
  command_armed_ = true;
}

void RelayLoop::arm_timer() {
  io_uring_sqe* sqe = submitter_.next_sqe();
  if (sqe == nullptr) return;
  io_uring_prep_timeout(sqe, &timer_interval_, 0, 0);
  sqe->user_data = tag(Op::timer);
  timer_armed_ = true;
}

int RelayLoop::run() {
  ingress_->arm();
  arm_command_read();
  arm_timer();
  // How the loop waits after a turn: PollPolicy (poll_policy.h) decides, by
  // default from the loop's own busy share and walk sizes over the last
  // 2 ms: wake per frame while traffic is light or comes in bursts, pause
  // after each walk while the loop is busy with frames that arrive one by
  // one (moderation), poll only when asked to (--busy-poll-us N).
  PollPolicy policy(opts_.busy_poll, uint64_t{opts_.busy_poll_us} * 1000);
  // A real-time loop steps down while it is saturated. Asked for and in
  // force: a best-effort priority the kernel refused left the thread under
  // the normal policy (loop_thread.h), with nothing to step down from.
  RealtimeGuard guard(opts_.loop_rt_priority > 0 && this_thread_is_fifo());
  const bool timed = policy.timed() || guard.enabled();
  ThreadClock thread_clock;  // this thread's CPU time and run delay, for the policy's and the guard's windows
  if (timed) thread_clock.open_for_this_thread();
  const auto thread_times = [&thread_clock] { return thread_clock.read(); };
  uint64_t policy_starts = 0;
  uint64_t contended_windows = 0;
  bool spin = false;  // decided at the end of the previous turn
  // The default timer slack (50 us) would stretch a 20 us pause several
  // times over; 1 us keeps the added latency what was asked for.
  if (opts_.coalesce_us > 0 || opts_.busy_poll == BusyPoll::adaptive) prctl(PR_SET_TIMERSLACK, 1000UL, 0UL, 0UL, 0UL);
  // Set by a pause over a ring: the pause's own io_uring_enter already
  // submitted and reaped, and the ring shows new frames in memory, so the
  // next turn walks without another syscall (one per walk less).
  bool walk_without_enter = false;
  // Set by a walk that stopped at the burst cap: the frames it left in the
  // ring raise no new completion, so the next turn's wait is bounded
  // (kCappedWaitNs, loop_options.h).
  bool more_in_ring = false;
  while (!drained()) {
    const uint64_t frames_before = counters_->loop(frames).load(std::memory_order_relaxed);
    int rc = 0;
    if (!walk_without_enter) {
      rc = spin           ? io_uring_submit_and_get_events(&ring_)
           : more_in_ring ? wait_.submit_and_wait_at_most(&ring_, wait_count(policy.counts_sends()), kCappedWaitNs)
                          : wait_.submit_and_wait(&ring_, wait_count(policy.counts_sends()));
      CounterBlock::bump(counters_->loop(submit_calls));
      submitter_.submitted();
    }
    walk_without_enter = false;
    // The policy's clock reads (vDSO, no syscall): the turn's start here,
    // its end below.
    const uint64_t start_ns = timed ? monotonic_ns() : 0;
    if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY && rc != -ETIME) return rc;
    CounterBlock::bump(counters_->loop(loop_iterations));
    // Every turn, the stats timer's included: mcrd's watchdog takes a beat
    // that stops changing for a hung worker.
    if (heartbeat_) heartbeat_->beat(counters_->loop(loop_iterations).load(std::memory_order_relaxed));

    if (spin) CounterBlock::bump(counters_->loop(busy_poll_turns));
    reap(ReapMode::top);
    ingress_->after_reap();  // ring: the walk; multishot: publish returned buffers
    run_deferred();
    const uint64_t walked = counters_->loop(frames).load(std::memory_order_relaxed) - frames_before;
    const bool forwarded = walked != 0;
    PollPolicy::Next next = PollPolicy::Next::sleep;
    const uint64_t end_ns = timed ? monotonic_ns() : 0;
    if (guard.enabled()) step_realtime(guard.after_turn(end_ns, thread_times), &guard);
    if (policy.timed()) {
      // Frames, not timer ticks or completions, count as a turn that forwarded.
      next = policy.after_turn(start_ns, end_ns, static_cast<uint32_t>(walked), thread_times);
      if (policy.starts() != policy_starts) {
        policy_starts = policy.starts();
        CounterBlock::bump(counters_->loop(busy_poll_starts));
      }
      if (policy.contended() != contended_windows) {
        contended_windows = policy.contended();
        CounterBlock::bump(counters_->loop(busy_poll_contended));
      }
      CounterBlock::set(counters_->loop(busy_permille), policy.busy_permille());
    }
    spin = next == PollPolicy::Next::poll;
    more_in_ring = forwarded && ingress_->burst_capped();
    // A walk that stopped at the burst cap left frames waiting: no pause.
    if (forwarded && !ingress_->burst_capped()) {
      bool paused = false;
      if (opts_.coalesce_us > 0) {
        paused = pause(uint64_t{opts_.coalesce_us} * 1000);
      } else if (next == PollPolicy::Next::pause) {
        paused = pause(policy.pause_ns());
      }
      walk_without_enter = paused && ingress_->frames_visible_without_enter();
    }
    if (update_backpressure()) more_in_ring = true;
    rearm_lost_requests();
    CounterBlock::set(counters_->loop(inflight_sends), sends_.inflight());
    CounterBlock::set(counters_->loop(inflight_buffers), pool_.held());
  }
  limiter_.flush(true);  // suppressed error counts since the last tick, past a full ring
  return 0;
}

void RelayLoop::step_realtime(RealtimeGuard::Action action, RealtimeGuard* guard) {
  if (action == RealtimeGuard::Action::none) return;
  if (action == RealtimeGuard::Action::step_down) {
    if (!could_return_to_fifo(opts_.loop_rt_priority)) {
      // A step down would be for good: the worker gave up root and its
      // RLIMIT_RTPRIO is too low. Stay real-time (the flag's promise), and
      // say once what lets the loop step down and come back.
      guard->stay_realtime();
      logs_->push(LogEvent{LogLevel::warn, "MCR_LOOP_SATURATED",
                           "the real-time loop needed 90 % of its core for 100 ms, but stays under SCHED_FIFO: without "
                           "RLIMIT_RTPRIO it could not come back after stepping down (give mcrd LimitRTPRIO= in its unit)",
                           0, -1, 1});
      return;
    }
    const SysError e = make_this_thread_normal(uint64_t{opts_.loop_slice_us} * 1000);
    if (e.failed()) {
      // Cannot happen for one's own thread; if it does, stop trying.
      guard->stay_realtime();
      logs_->push(LogEvent{LogLevel::warn, errno_name(e.err), "the saturated real-time loop could not step down to the normal policy", e.err, -1, 1});
      return;
    }
    CounterBlock::bump(counters_->loop(rt_stepdowns));
    CounterBlock::set(counters_->loop(rt_stepped_down), 1);
    logs_->push(LogEvent{LogLevel::warn, "MCR_LOOP_SATURATED",
                         "the real-time loop needed 90 % of its core for 100 ms (its input exceeds what it forwards): it runs "
                         "under the normal policy until it is calm, so the other tasks of its core get their share",
                         0, -1, 1});
    return;
  }
  const SysError e = make_this_thread_fifo(opts_.loop_rt_priority);
  if (e.failed()) {
    // could_return_to_fifo() said it could; a sandbox may still refuse.
    // Stay under the normal policy.
    guard->disable();
    logs_->push(LogEvent{LogLevel::warn, errno_name(e.err),
                         "the loop could not go back to SCHED_FIFO after a saturation: it stays under the normal policy",
                         e.err, -1, 1});
    return;
  }
  CounterBlock::set(counters_->loop(rt_stepped_down), 0);
  logs_->push(LogEvent{LogLevel::info, "MCR_LOOP_REALTIME_AGAIN", "the loop is calm again: back under SCHED_FIFO", 0, -1, 1});
}

unsigned RelayLoop::wait_count(bool count_sends) const {
  // The sends this submit takes complete inside it (UDP does not block) and
  // post their completions before the wait begins. Waiting for one
  // completion ends at once on them, and the loop makes one more turn (an
  // io_uring_enter, a reap, a walk that mostly finds nothing) before it
  // really sleeps. Under light load that turn is a cheap look for the next
  // frame of a burst; once the loop is busy (the policy says when) it is
  // one wasted call per walk, so the wait counts the sends and sleeps until
  // one completion beyond them: something new (a frame's poll, a command,
  // the stats timer), reaping the sends with it. Only while they are all
  // the sends in flight: a send the kernel could not take at once (its
  // socket's buffer full) completes later, and a paused walk must resume on
  // such completions, so with older sends in flight any completion ends the
  // wait, as before. (A send of this submit that the kernel queues holds
  // this one wait until it completes.) Nor while receiving is paused at the
  // in-flight cap: the frames waiting in the ring raise no completion, and
  // these sends' completions are what resumes the walk (at the end of a
  // burst nothing else would come before the next stats tick).
  const uint32_t sends = submitter_.unsubmitted();
  return count_sends && !ingress_->paused() && sends != 0 && sends_.inflight() == sends ? sends + 1 : 1;
}

unsigned RelayLoop::reap(ReapMode mode) {
  // Not re-entrant: a multishot receive handles frames inside the top-level
  // reap, and their flushes must not advance the CQ under it.
  if (reaping_) return 0;
  reaping_ = true;
  // Only the completions there when the reap begins: a multishot receive's
  // frames submit sends inside this reap, and those sends' completions (and
  // the frames that arrive meanwhile) wait for the next one, so a reap ends
  // however fast completions come. Each is copied and its CQ entry given
  // back before it is handled: a handler that submits lets the kernel post
  // into the CQ, and entries handled but not yet given back would take its
  // room (an overflowing CQ is slow and ends multishot requests).
  const unsigned ready = io_uring_cq_ready(&ring_);
  unsigned seen = 0;
  while (seen < ready) {
    io_uring_cqe* at = nullptr;
    if (io_uring_peek_cqe(&ring_, &at) != 0 || at == nullptr) break;
    const io_uring_cqe copy = *at;
    io_uring_cqe_seen(&ring_, at);
    const io_uring_cqe* cqe = &copy;
    switch (op_of(cqe->user_data)) {
      case Op::recv: ingress_->on_completion(cqe); break;
      case Op::send: sends_.on_send(cqe); break;
      case Op::send_batch: batcher_.on_completion(cqe); break;
      // Mid-walk, the forwarder is iterating a rule's outputs: a command
      // could free that rule, so commands and the timer wait for the walk's end.
      case Op::command:
        if (mode == ReapMode::top) on_commands(); else commands_ready_ = true;
        break;
      case Op::timer:
        if (mode == ReapMode::top) on_timer(); else timer_fired_ = true;
        break;
      case Op::cancel: break;
    }
    ++seen;
  }
  reaping_ = false;
  return seen;
}

bool RelayLoop::pause(uint64_t ns) {
  // Interrupt moderation for a busy input: every walk ends in one send per
  // flow and output, and each send costs a trip through the UDP stack, the
  // segmentation and, on the receiving side, a wake-up or IPI however few
  // datagrams it carries. Pausing before the next walk lets more datagrams
  // gather in the ring, so each send carries more of them (docs/mcrd.md,
  // "Throughput settings"). The walk's own sends go out first: they do not
  // wait for the pause. A walk that finds nothing ends it: the loop then
  // sleeps in io_uring_enter until the next frame.
  //
  // GETEVENTS with nothing to wait for: the same call that submits also
  // posts the completions deferred so far (DEFER_TASKRUN posts them only in
  // io_uring_enter), so commands and the stats timer are reaped by the
  // next turn even when that turn makes no io_uring_enter call of its own.
  if (stopping_) return false;
  io_uring_submit_and_get_events(&ring_);
  CounterBlock::bump(counters_->loop(submit_calls));
  submitter_.submitted();
  const timespec pause{0, static_cast<long>(ns)};
  clock_nanosleep(CLOCK_MONOTONIC, 0, &pause, nullptr);
  CounterBlock::bump(counters_->loop(coalesce_waits));
  return true;
}

void RelayLoop::run_deferred() {
  if (commands_ready_) {
    commands_ready_ = false;
    on_commands();
  }
  if (timer_fired_) {
    timer_fired_ = false;
    on_timer();
  }
}

void RelayLoop::rearm_lost_requests() {
  if (!stopping_) {
    // Both flags are true between turns unless arming failed: a command's
    // or the timer's completion re-arms it in the same turn.
    if (!command_armed_) arm_command_read();
    if (!timer_armed_) arm_timer();
    return;
  }
  if (timer_armed_ && !timer_cancel_queued_) timer_cancel_queued_ = submitter_.cancel(Op::timer);
  ingress_->keep_stopping();
}

bool RelayLoop::drained() const {
  return stopping_ && !ingress_->armed() && !command_armed_ && !timer_armed_ && sends_.inflight() == 0;
}

bool RelayLoop::update_backpressure() {
  if (stopping_) return false;
  const uint64_t frames_before = counters_->loop(frames).load(std::memory_order_relaxed);
  ingress_->update_backpressure();
  if (counters_->loop(frames).load(std::memory_order_relaxed) == frames_before) return false;
  // A resume walk (ring ingress: receiving paused at the in-flight cap, now
  // at half of it) ran after this turn's run_deferred(). Its mid-walk reaps
  // may have met the stats timer's or a command's completion, which only
  // set a flag there: handle them now, since their requests are re-armed by
  // their handlers, and the next wait could otherwise sleep until a new
  // frame (no timer, no command read armed: the heartbeat stops and mcrd
  // judges the worker hung).
  run_deferred();
  // A resume walk that stopped at the burst cap left frames in the ring,
  // which raise no completion: the next wait must be bounded.
  return ingress_->burst_capped();
}

void RelayLoop::on_commands() {
  command_armed_ = false;
  std::vector<Command> batch = commands_->take();
  bool stop_requested = false;
  for (Command& cmd : batch) {
    CounterBlock::bump(counters_->loop(LoopCounter::commands));
    if (cmd.kind == Command::Kind::stop) {
      stop_requested = true;
      continue;
    }
    commands_->complete(cmd.seq, rules_.apply(cmd));
  }
  if (stop_requested && !stopping_) {
    // Stop: no new frames; everything already handed to the kernel drains
    // (run() returns once in-flight sends reach zero).
    stopping_ = true;
    ingress_->stop();
    if (timer_armed_) timer_cancel_queued_ = submitter_.cancel(Op::timer);
  }
  if (!stopping_) arm_command_read();
  if (!batch.empty() && notify_) notify_();
}

void RelayLoop::on_timer() {
  timer_armed_ = false;
  uint64_t packets = 0;
  uint64_t drops = 0;
  if (!read_packet_stats(opts_.packet_fd, &packets, &drops).failed()) {
    CounterBlock::bump(counters_->loop(kernel_packets), packets);
    CounterBlock::bump(counters_->loop(kernel_drops), drops);
  }
  // The input's MAC for the own-frame check, read here rather than once:
  // mcrd binds the packet socket after the loop starts (activation), and an
  // interface's address can change. One getsockname per tick.
  uint8_t mac[6];
  forwarder_.set_input_mac(read_bound_mac(opts_.packet_fd, mac) ? mac : nullptr);
  // Summaries of rate-limited errors at most once a second.
  if (++ticks_ % ticks_per_second() == 0 && limiter_.flush() > 0 && notify_) notify_();
  batcher_.on_tick(ticks_);  // outputs that fell back from UDP_SEGMENT a second ago retry
  // Loss of signal is judged by mcrd from each rule's last arrival: two
  // clock reads (vDSO, no syscall) and one pass over the rules per tick,
  // nothing per datagram. The wall time is shown; the monotonic one judged.
  const auto ms = [](clockid_t clock) {
    timespec ts{};
    clock_gettime(clock, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000u + static_cast<uint64_t>(ts.tv_nsec) / 1000000u;
  };
  rules_.note_arrivals(ms(CLOCK_REALTIME), ms(CLOCK_MONOTONIC));
  if (!stopping_) arm_timer();
}

}  // namespace mcr
