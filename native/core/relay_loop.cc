// Relay loop implementation. Invariants that keep it correct and fast:
// - Every SQE gets a tag in user_data; a send's tag carries its buffer id and
//   output slot, so a completion needs no lookup table beyond the slot array.
// - A buffer goes back to the kernel exactly once: when its frame is dropped,
//   or when the last of its sends completes (BufferPool reference counts).
// - Sends are submitted every `batch` SQEs and at the top of each iteration,
//   and their completions are reaped in the same iteration (the earlier Rust
//   design lost 3x throughput by deferring them).
// - No allocation, lock or syscall per packet: the only syscalls are the
//   batched io_uring_enter calls.
#include "core/relay_loop.h"

#include <poll.h>
#include <sys/prctl.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "core/frame_parser.h"
#include "core/packet_socket.h"

namespace mcr {
namespace {

constexpr uint16_t kBufferGroup = 7;
constexpr uint32_t kReturnPublishBatch = 32;
// About 1.2 MB of batch records per loop; enough for every datagram of a
// 16k-slot ring to be in flight in full batches.
constexpr uint32_t kMaxBatchRecords = 1024;
// Flows with an open batch in one scan; more are flushed early (no malloc).
constexpr uint32_t kMaxOpenRules = 256;

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
      limiter_(logs_.get()),
      output_by_slot_(counters_->output_slots(), nullptr) {}

RelayLoop::~RelayLoop() {
  for (auto& rule : table_.take_all()) discard_rule(std::move(rule));
  retiring_.clear();
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
  io_uring_register_ring_fd(&ring_);  // optional speed-up; failure is harmless
  if (opts_.ingress == Ingress::ring) {
    if ((rc = packet_ring_.init(opts_.packet_fd, opts_.buffer_count, opts_.buffer_size)) != 0) {
      *failed_step = "PACKET_RX_RING";
      return rc;
    }
    if ((rc = pool_.init_accounting(packet_ring_.count())) != 0) {
      *failed_step = "buffer accounting";
      return rc;
    }
  } else {
    if ((rc = pool_.init(opts_.buffer_count, opts_.buffer_size)) != 0) {
      *failed_step = "mmap";
      return rc;
    }
    if ((rc = provided_.init(&ring_, &pool_, kBufferGroup)) != 0) {
      *failed_step = "io_uring_register_buf_ring";
      return rc;
    }
  }
  if (opts_.udp_gso && opts_.ingress == Ingress::ring) {
    // Batches of two or more datagrams: half the ring in flight as batches
    // is the most there can be; beyond kMaxBatchRecords datagrams go one by one.
    const uint32_t records = packet_ring_.count() / 2 < kMaxBatchRecords ? packet_ring_.count() / 2 : kMaxBatchRecords;
    batches_.init(records);
    open_rules_.reserve(kMaxOpenRules);
    gso_off_.reserve(counters_->output_slots());
    batching_ = true;
  }
  timer_interval_.tv_sec = opts_.stats_interval_ms / 1000;
  timer_interval_.tv_nsec = static_cast<long long>(opts_.stats_interval_ms % 1000) * 1000000;
  return 0;
}

io_uring_sqe* RelayLoop::next_sqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe != nullptr) return sqe;
  // SQ full: hand what we have to the kernel and take a fresh slot.
  io_uring_submit(&ring_);
  CounterBlock::bump(counters_->loop(submit_calls));
  unsubmitted_ = 0;
  return io_uring_get_sqe(&ring_);
}

void RelayLoop::flush_batch_if_full() {
  if (++unsubmitted_ < opts_.batch) return;
  io_uring_submit(&ring_);
  CounterBlock::bump(counters_->loop(submit_calls));
  unsubmitted_ = 0;
  // UDP sends mostly complete inside the submit: reap them now, not after
  // the whole ring lap, so in-flight counts what the kernel really holds and
  // back-pressure engages only when sends truly back up.
  reap(ReapMode::mid_scan);
}

void RelayLoop::arm_recv() {
  io_uring_sqe* sqe = next_sqe();
  if (sqe == nullptr) return;
  if (opts_.ingress == Ingress::ring) {
    // One CQE per wake-up, and with DEFER_TASKRUN wake-ups between two
    // io_uring_enter calls fold into one: a busy ring is drained in batches.
    io_uring_prep_poll_multishot(sqe, opts_.packet_fd, POLLIN);
  } else {
    // MSG_TRUNC makes packet sockets report the frame's real length, so a
    // frame larger than a buffer is recognised and counted, not forwarded cut.
    io_uring_prep_recv_multishot(sqe, opts_.packet_fd, nullptr, 0, MSG_TRUNC);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = provided_.group();
  }
  sqe->user_data = tag(Op::recv);
  recv_armed_ = true;
  CounterBlock::bump(counters_->loop(recv_arms));
}

void RelayLoop::arm_command_read() {
  io_uring_sqe* sqe = next_sqe();
  if (sqe == nullptr) return;
  io_uring_prep_read(sqe, commands_->event_fd(), &command_value_, sizeof(command_value_), 0);
  sqe->user_data = tag(Op::command);
  command_armed_ = true;
}

void RelayLoop::arm_timer() {
  io_uring_sqe* sqe = next_sqe();
  if (sqe == nullptr) return;
  io_uring_prep_timeout(sqe, &timer_interval_, 0, 0);
  sqe->user_data = tag(Op::timer);
  timer_armed_ = true;
}

void RelayLoop::cancel(Op op) {
  io_uring_sqe* sqe = next_sqe();
  if (sqe == nullptr) return;
  io_uring_prep_cancel64(sqe, tag(op), 0);
  sqe->user_data = tag(Op::cancel);
}

int RelayLoop::run() {
  arm_recv();
  arm_command_read();
  arm_timer();
  // Busy polling: after the last turn that forwarded frames the loop keeps
  // polling without blocking for busy_poll_us before it sleeps in
  // io_uring_enter.
  // A sleeping loop leaves its core idle, and an idle core (a halted vCPU
  // above all, woken through the hypervisor) is slow to take the next
  // receive interrupt: the input's 1000-packet backlog overflows while the
  // core is half idle (docs/mcrd.md, "Throughput settings"). Costs the
  // whole core while traffic flows; off by default.
  const uint64_t busy_poll_ns = uint64_t{opts_.busy_poll_us} * 1000;
  uint64_t last_frame_ns = 0;
  bool spin = false;  // decided at the end of the previous turn
  // The default timer slack (50 us) would stretch a 20 us coalescing sleep
  // several times over; 1 us keeps the added latency what was asked for.
  if (opts_.coalesce_us > 0) prctl(PR_SET_TIMERSLACK, 1000UL, 0UL, 0UL, 0UL);
  while (!drained()) {
    const uint64_t frames_before = counters_->loop(frames).load(std::memory_order_relaxed);
    const int rc = spin ? io_uring_submit_and_get_events(&ring_) : io_uring_submit_and_wait(&ring_, 1);
    CounterBlock::bump(counters_->loop(submit_calls));
    unsubmitted_ = 0;
    if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) return rc;
    CounterBlock::bump(counters_->loop(loop_iterations));

    if (spin) CounterBlock::bump(counters_->loop(busy_poll_turns));
    reap(ReapMode::top);
    if (opts_.ingress == Ingress::multishot) provided_.publish();
    // The ring is shared memory: new frames are visible without a CQE.
    if (opts_.ingress == Ingress::ring && recv_armed_) scan_ring();
    run_deferred();
    const bool forwarded = counters_->loop(frames).load(std::memory_order_relaxed) != frames_before;
    if (forwarded) coalesce();
    if (busy_poll_ns > 0) {
      // One clock read per turn, after its work: frames, not timer ticks or
      // completions, keep the loop polling.
      const uint64_t now = monotonic_ns();
      if (forwarded) last_frame_ns = now;
      spin = now - last_frame_ns < busy_poll_ns;
    }
    update_backpressure();
    CounterBlock::set(counters_->loop(inflight_sends), inflight_sends_);
    CounterBlock::set(counters_->loop(inflight_buffers), pool_.held());
  }
  limiter_.flush();  // suppressed error counts since the last tick
  return 0;
}

unsigned RelayLoop::reap(ReapMode mode) {
  // Not re-entrant: a multishot receive handles frames inside the top-level
  // reap, and their flushes must not advance the CQ under it.
  if (reaping_) return 0;
  reaping_ = true;
  unsigned head;
  unsigned seen = 0;
  io_uring_cqe* cqe;
  io_uring_for_each_cqe(&ring_, head, cqe) {
    switch (op_of(cqe->user_data)) {
      case Op::recv: on_recv(cqe); break;
      case Op::send: on_send(cqe); break;
      case Op::send_batch: on_send_batch(cqe); break;
      // Mid-scan, on_frame is iterating a rule's outputs: a command could
      // free that rule, so commands and the timer wait for the scan's end.
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
  io_uring_cq_advance(&ring_, seen);
  reaping_ = false;
  return seen;
}

void RelayLoop::coalesce() {
  // Interrupt moderation for a busy input: every walk ends in one send per
  // flow and output, and each send costs a trip through the UDP stack, the
  // segmentation and, on the receiving side, a wake-up or IPI however few
  // datagrams it carries. While traffic flows, waiting coalesce_us before
  // the next walk lets more datagrams gather in the ring, so each send
  // carries more of them (docs/mcrd.md, "Throughput settings"). A walk that
  // finds nothing ends the mode: the loop then sleeps in io_uring_enter
  // until the next frame, adding no delay to sparse traffic's first frame.
  if (opts_.coalesce_us == 0 || stopping_) return;
  const timespec pause{0, static_cast<long>(opts_.coalesce_us) * 1000L};
  clock_nanosleep(CLOCK_MONOTONIC, 0, &pause, nullptr);
  CounterBlock::bump(counters_->loop(coalesce_waits));
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

bool RelayLoop::drained() const {
  return stopping_ && !recv_armed_ && !command_armed_ && !timer_armed_ && inflight_sends_ == 0;
}

void RelayLoop::update_backpressure() {
  if (stopping_) return;
  if (opts_.ingress == Ingress::ring) {
    // The poll stays armed; pausing means leaving frames in the ring, where
    // the kernel drops (and counts) what does not fit.
    if (!paused_ && inflight_sends_ >= opts_.max_inflight_sends) {
      paused_ = true;
      CounterBlock::bump(counters_->loop(backpressure_pauses));
    } else if (paused_ && inflight_sends_ <= opts_.max_inflight_sends / 2) {
      paused_ = false;
      scan_ring();  // the kernel does not wake us for frames already waiting
    }
    if (!recv_armed_) arm_recv();
    return;
  }
  if (recv_armed_) {
    // At the cap, stop taking frames: the kernel queues them in the socket
    // and counts what overflows (PACKET_STATISTICS), instead of us queueing
    // without bound.
    if (inflight_sends_ >= opts_.max_inflight_sends && !recv_cancelling_) {
      cancel(Op::recv);
      recv_cancelling_ = true;
      paused_ = true;
      CounterBlock::bump(counters_->loop(backpressure_pauses));
    }
    return;
  }
  if (paused_ && inflight_sends_ > opts_.max_inflight_sends / 2) return;
  paused_ = false;
  if (pool_.held() < pool_.count()) arm_recv();
}

void RelayLoop::on_recv(const io_uring_cqe* cqe) {
  if ((cqe->flags & IORING_CQE_F_MORE) == 0) {
    recv_armed_ = false;
    recv_cancelling_ = false;
  }
  if (cqe->res < 0) {
    if (cqe->res == -ENOBUFS) {
      CounterBlock::bump(counters_->loop(recv_buffer_exhausted));
    } else if (cqe->res != -ECANCELED) {
      CounterBlock::bump(counters_->loop(recv_errors));
      limiter_.report(-1, -cqe->res, errno_name(-cqe->res), "receive failed on the input socket");
    }
    return;
  }
  // Ring ingress: the poll only says "frames are there"; run() scans the ring
  // after reaping, outside any reap.
  if (opts_.ingress == Ingress::ring) return;
  if ((cqe->flags & IORING_CQE_F_BUFFER) == 0) return;
  const auto bid = static_cast<uint16_t>(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
  const auto len = static_cast<uint32_t>(cqe->res);
  on_frame(bid, pool_.address(bid), len < pool_.size() ? len : pool_.size(), len);
}

void RelayLoop::scan_ring() {
  scan_ring_lap();
  // Batches never wait past the scan that filled them: no added latency
  // beyond the time to read what was already waiting.
  flush_open_batches();
}

void RelayLoop::scan_ring_lap() {
  // Bounded to one lap so completions are reaped between laps.
  for (uint32_t n = 0; n < packet_ring_.count() && !paused_ && !stopping_; ++n) {
    const uint32_t i = ring_next_;
    if (pool_.refs(static_cast<uint16_t>(i)) != 0) {
      // The ring wrapped onto a slot whose sends are still in flight: the
      // kernel is blocked there too until it completes.
      CounterBlock::bump(counters_->loop(recv_buffer_exhausted));
      return;
    }
    if (!packet_ring_.ready(i)) return;
    ring_next_ = i + 1 == packet_ring_.count() ? 0 : i + 1;
    const RingFrame f = packet_ring_.frame(i);
    on_frame(static_cast<uint16_t>(i), f.data, f.captured, f.wire_len);
    if (inflight_sends_ >= opts_.max_inflight_sends) update_backpressure();
  }
}

void RelayLoop::on_frame(uint16_t bid, const uint8_t* data, uint32_t captured, uint32_t wire_len) {
  CounterBlock::bump(counters_->loop(frames));
  CounterBlock::bump(counters_->loop(frame_bytes), wire_len);
  DropReason reason = DropReason::oversize;
  Datagram dgram;
  if (wire_len <= captured && wire_len <= opts_.buffer_size) reason = parse_frame(data, wire_len, &dgram);
  if (reason != DropReason::none) {
    CounterBlock::bump(counters_->loop(static_cast<LoopCounter>(drop_short_ethernet + static_cast<uint32_t>(reason) - 1)));
    give_back(bid);
    return;
  }
  const Rule* rule = table_.match(dgram.dst_addr, dgram.dst_port, dgram.src_addr);
  if (rule == nullptr) {
    CounterBlock::bump(counters_->loop(no_rule));
    give_back(bid);
    return;
  }
  CounterBlock::bump(counters_->loop(matched));
  CounterBlock::bump(counters_->rule(rule->slot, RuleCounter::packets));
  CounterBlock::bump(counters_->rule(rule->slot, RuleCounter::bytes), dgram.payload_len);
  // One reference per live output, whether the frame goes out alone or in a
  // batch. An output whose interface was missing when the rule was built
  // counts the datagram as an error instead (Output::down_errno).
  uint32_t live = 0;
  for (const auto& out : rule->outputs) {
    if (out->fd >= 0) {
      ++live;
    } else {
      count_send_error(out.get(), out->down_errno, 1);
    }
  }
  CounterBlock::bump(counters_->loop(sends_queued), live);
  if (live == 0) {
    give_back(bid);
    return;
  }
  pool_.hold(bid, live);
  if (batching_) {
    batch_frame(rule, bid, dgram.payload, dgram.payload_len);
  } else {
    send_each(*rule, bid, dgram.payload, dgram.payload_len);
  }
}

void RelayLoop::send_each(const Rule& rule, uint16_t bid, const uint8_t* payload, uint32_t len) {
  for (const auto& out : rule.outputs) {
    if (out->fd >= 0) send_one(out.get(), bid, payload, len);
  }
}

void RelayLoop::send_one(Output* out, uint16_t bid, const uint8_t* payload, uint32_t len) {
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_send(sqe, out->fd, payload, len, 0);
  if (!out->connected) {
    io_uring_prep_send_set_addr(sqe, reinterpret_cast<const sockaddr*>(&out->dest), sizeof(out->dest));
  }
  sqe->user_data = tag(Op::send, (uint64_t{bid} << 32) | out->slot);
  ++out->inflight;
  ++inflight_sends_;
  flush_batch_if_full();
}

bool RelayLoop::rule_can_batch(const Rule& rule) {
  // Outputs share the batch's msghdr, which carries no address: connected only.
  for (const auto& out : rule.outputs) {
    if (out->fd >= 0 && (!out->connected || !out->gso_ok)) return false;
  }
  return true;
}

void RelayLoop::batch_frame(const Rule* rule, uint16_t bid, const uint8_t* payload, uint32_t len) {
  if (rule->open_batch != kNoBatch && !batches_.at(rule->open_batch).accepts(len)) flush_batch(rule);
  if (rule->open_batch == kNoBatch) {
    if (!rule_can_batch(*rule)) {
      send_each(*rule, bid, payload, len);
      return;
    }
    // A rule is listed once per scan however many batches it fills: a long
    // walk (the loop behind after a stall) fills hundreds for one flow, and
    // a list that grew per batch used to run full and send the rest of the
    // walk one datagram at a time, at several times the cost, so the loop
    // fell further behind (docs/performance.md, "batch list collapse").
    if (!rule->open_listed) {
      // More flows with open batches than the list holds: send theirs now.
      if (open_rules_.size() == kMaxOpenRules) flush_open_batches();
      rule->open_listed = true;
      open_rules_.push_back(rule);
    }
    const uint32_t index = batches_.acquire(static_cast<uint16_t>(len));
    if (index == kNoBatch) {
      // Every record is in flight: slower, never wrong, and counted.
      CounterBlock::bump(counters_->loop(gso_pool_empty));
      send_each(*rule, bid, payload, len);
      return;
    }
    rule->open_batch = index;
  }
  SendBatch& b = batches_.at(rule->open_batch);
  b.add(bid, payload, len);
  if (b.count == SendBatch::kMaxSegments || b.closed) flush_batch(rule);
}

void RelayLoop::flush_batch(const Rule* rule) {
  const uint32_t index = rule->open_batch;
  rule->open_batch = kNoBatch;
  SendBatch& b = batches_.at(index);
  if (b.count == 1) {
    // Nothing to amortise: a plain SEND is cheaper than a one-segment SENDMSG.
    send_each(*rule, b.bids[0], static_cast<const uint8_t*>(b.iov[0].iov_base), static_cast<uint32_t>(b.iov[0].iov_len));
    batches_.release(index);
    return;
  }
  b.seal();
  b.refs = 0;
  for (const auto& out : rule->outputs) b.refs += out->fd >= 0 ? 1 : 0;
  CounterBlock::bump(counters_->loop(gso_batches));
  CounterBlock::bump(counters_->loop(gso_datagrams), b.count);
  for (const auto& out : rule->outputs) {
    if (out->fd < 0) continue;
    io_uring_sqe* sqe = next_sqe();
    io_uring_prep_sendmsg(sqe, out->fd, &b.msg, 0);
    sqe->user_data = tag(Op::send_batch, (uint64_t{index} << 32) | out->slot);
    ++out->inflight;
    ++inflight_sends_;
    flush_batch_if_full();
  }
}

void RelayLoop::flush_open_batches() {
  for (const Rule* rule : open_rules_) {
    rule->open_listed = false;
    if (rule->open_batch != kNoBatch) flush_batch(rule);
  }
  open_rules_.clear();
}

void RelayLoop::on_send(const io_uring_cqe* cqe) {
  const uint32_t slot = static_cast<uint32_t>(cqe->user_data & 0xffffffffu);
  const uint16_t bid = static_cast<uint16_t>((cqe->user_data >> 32) & 0xffffu);
  Output* out = output_by_slot_[slot];
  --out->inflight;
  --inflight_sends_;
  if (cqe->res >= 0) {
    CounterBlock::bump(counters_->output(slot, OutputCounter::packets));
    CounterBlock::bump(counters_->output(slot, OutputCounter::bytes), static_cast<uint64_t>(cqe->res));
    CounterBlock::bump(counters_->loop(sent));
    CounterBlock::bump(counters_->loop(sent_bytes), static_cast<uint64_t>(cqe->res));
  } else {
    count_send_error(out, -cqe->res, 1);
  }
  if (out->retired && out->inflight == 0) destroy_retired(out);
  if (pool_.release(bid)) give_back(bid);
}

void RelayLoop::on_send_batch(const io_uring_cqe* cqe) {
  const uint32_t slot = static_cast<uint32_t>(cqe->user_data & 0xffffffffu);
  const uint32_t index = static_cast<uint32_t>((cqe->user_data >> 32) & 0xffffffu);
  Output* out = output_by_slot_[slot];
  SendBatch& b = batches_.at(index);
  --out->inflight;
  --inflight_sends_;
  if (cqe->res >= 0) {
    CounterBlock::bump(counters_->output(slot, OutputCounter::packets), b.count);
    CounterBlock::bump(counters_->output(slot, OutputCounter::bytes), static_cast<uint64_t>(cqe->res));
    CounterBlock::bump(counters_->loop(sent), b.count);
    CounterBlock::bump(counters_->loop(sent_bytes), static_cast<uint64_t>(cqe->res));
    if (out->gso_retrying) [[unlikely]] {
      // The first batch a retry let through: the output takes them again.
      out->gso_retrying = false;
      if (!logs_->push(LogEvent{LogLevel::info, "MCR_GSO_RESUMED", "UDP_SEGMENT accepted again on output; sending in batches",
                                0, static_cast<int64_t>(out->slot), 1})) {
        CounterBlock::bump(counters_->loop(logs_dropped));
      }
    }
  } else if ((cqe->res == -EMSGSIZE || cqe->res == -EIO || cqe->res == -EINVAL) && !out->retired) {
    // The output cannot take UDP_SEGMENT: EMSGSIZE when a datagram is larger
    // than its MTU (a single send would be fragmented instead), EIO on older
    // kernels when its device has no checksum offload. It sends one by one
    // from now on, starting with these datagrams, whose references pass to
    // the new sends. Batches already in flight come back refused too and
    // are re-sent the same way. About a second later retry_gso() lets it
    // try a batch again: the MTU may be back up, and nothing else would
    // tell the loop (a rule sync builds new outputs, but mcrd does not sync
    // on an MTU change, and mcr-relay never does).
    if (out->gso_ok) {
      out->gso_ok = false;
      out->gso_retry_tick = ticks_ + ticks_per_second();
      gso_off_.push_back(out->slot);
      CounterBlock::bump(counters_->loop(gso_fallbacks));
      // A refused retry is counted, not logged again: one warn line per
      // outage, not one a second while the MTU stays low.
      if (!out->gso_retrying) {
        limiter_.report(out->slot, -cqe->res, errno_name(-cqe->res), "UDP_SEGMENT refused on output; sending datagram by datagram");
      }
    }
    for (uint16_t i = 0; i < b.count; ++i) {
      send_one(out, b.bids[i], static_cast<const uint8_t*>(b.iov[i].iov_base), static_cast<uint32_t>(b.iov[i].iov_len));
    }
    if (--b.refs == 0) batches_.release(index);
    return;
  } else {
    count_send_error(out, -cqe->res, b.count);
  }
  if (out->retired && out->inflight == 0) destroy_retired(out);
  for (uint16_t i = 0; i < b.count; ++i) {
    if (pool_.release(b.bids[i])) give_back(b.bids[i]);
  }
  if (--b.refs == 0) batches_.release(index);
}

void RelayLoop::count_send_error(Output* out, int err, uint32_t datagrams) {
  OutputCounter column = OutputCounter::err_other;
  switch (err) {
    case EAGAIN: column = OutputCounter::err_eagain; break;
    case ENOBUFS: column = OutputCounter::err_enobufs; break;
    case EHOSTUNREACH: column = OutputCounter::err_ehostunreach; break;
    case ENETUNREACH: column = OutputCounter::err_enetunreach; break;
    case ENETDOWN: column = OutputCounter::err_enetdown; break;
    case EPERM: column = OutputCounter::err_eperm; break;
    case ECONNREFUSED: column = OutputCounter::err_econnrefused; break;
    case EMSGSIZE: column = OutputCounter::err_emsgsize; break;
    default: break;
  }
  CounterBlock::bump(counters_->output(out->slot, OutputCounter::errors), datagrams);
  CounterBlock::bump(counters_->output(out->slot, column), datagrams);
  CounterBlock::set(counters_->output(out->slot, OutputCounter::last_errno), static_cast<uint64_t>(err));
  CounterBlock::bump(counters_->loop(send_errors), datagrams);
  if (!limiter_.report(out->slot, err, errno_name(err), "send failed on output")) {
    CounterBlock::bump(counters_->loop(logs_dropped));
  }
}

void RelayLoop::give_back(uint16_t bid) {
  if (opts_.ingress == Ingress::ring) {
    packet_ring_.release(bid);
    return;
  }
  provided_.give_back(bid);
  // Publish in small groups so a long completion batch does not starve the
  // receive of buffers until the end of the iteration.
  static_assert(kReturnPublishBatch > 0);
  if (++returns_since_publish_ >= kReturnPublishBatch) {
    provided_.publish();
    returns_since_publish_ = 0;
  }
}

void RelayLoop::retry_gso() {
  // On the stats tick, never per datagram: each output that fell back a
  // second ago may batch again. If its MTU is still too small the next batch
  // is refused, re-sent datagram by datagram, and the output waits another
  // second: one refused batch a second per such output is the whole cost.
  size_t kept = 0;
  for (const uint32_t slot : gso_off_) {
    Output* out = output_by_slot_[slot];
    // Removed (or its slot reused by an output that batches): nothing to retry.
    if (out == nullptr || out->retired || out->gso_ok) continue;
    if (static_cast<int32_t>(ticks_ - out->gso_retry_tick) < 0) {
      gso_off_[kept++] = slot;
      continue;
    }
    out->gso_ok = true;
    out->gso_retrying = true;
    CounterBlock::bump(counters_->loop(gso_retries));
  }
  gso_off_.resize(kept);
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
    commands_->complete(cmd.seq, apply(cmd));
  }
  if (stop_requested && !stopping_) {
    // Stop: no new frames; everything already handed to the kernel drains
    // (run() returns once in-flight sends reach zero).
    stopping_ = true;
    if (recv_armed_) cancel(Op::recv);
    if (timer_armed_) cancel(Op::timer);
  }
  if (!stopping_) arm_command_read();
  if (!batch.empty() && notify_) notify_();
}

int RelayLoop::apply(Command& cmd) {
  switch (cmd.kind) {
    case Command::Kind::add_rule: {
      Rule* rule = cmd.rule.get();
      const int rc = table_.add(cmd.rule);
      if (rc != 0) {
        discard_rule(std::move(cmd.rule));
        return rc;
      }
      install_outputs(*rule);
      return 0;
    }
    case Command::Kind::remove_rule: {
      std::unique_ptr<Rule> rule = table_.remove(cmd.rule_id);
      if (!rule) return -ENOENT;
      retire_rule(std::move(rule));
      return 0;
    }
    case Command::Kind::replace_rules: {
      // Validate the whole new set first so a bad set changes nothing.
      RuleTable check;
      bool ok = true;
      for (auto& rule : cmd.rules) {
        auto probe = std::make_unique<Rule>();
        probe->id = rule->id;
        probe->dst_addr = rule->dst_addr;
        probe->dst_port = rule->dst_port;
        probe->src_addr = rule->src_addr;
        if (check.add(probe) != 0) ok = false;
      }
      if (!ok) {
        for (auto& rule : cmd.rules) discard_rule(std::move(rule));
        return -EEXIST;
      }
      for (auto& old : table_.take_all()) retire_rule(std::move(old));
      for (auto& rule : cmd.rules) {
        install_outputs(*rule);
        table_.add(rule);  // cannot fail: the set was checked above
      }
      return 0;
    }
    case Command::Kind::stop: break;
  }
  return -EINVAL;
}

void RelayLoop::install_outputs(Rule& rule) {
  for (auto& out : rule.outputs) output_by_slot_[out->slot] = out.get();
}

void RelayLoop::discard_rule(std::unique_ptr<Rule> rule) {
  // Never installed, or nothing in flight: close and free at once.
  for (auto& out : rule->outputs) {
    if (output_by_slot_[out->slot] == out.get()) output_by_slot_[out->slot] = nullptr;
    counters_->release_output_slot(out->slot);
  }
  counters_->release_rule_slot(rule->slot);
}

void RelayLoop::retire_rule(std::unique_ptr<Rule> rule) {
  for (auto& out : rule->outputs) {
    if (out->inflight == 0) {
      output_by_slot_[out->slot] = nullptr;
      counters_->release_output_slot(out->slot);
      continue;  // unique_ptr closes the socket with the rule
    }
    // Sends still point at it: keep it until the last completes.
    out->retired = true;
    retiring_.push_back(std::move(out));
  }
  counters_->release_rule_slot(rule->slot);
}

void RelayLoop::destroy_retired(Output* out) {
  const uint32_t slot = out->slot;
  for (auto it = retiring_.begin(); it != retiring_.end(); ++it) {
    if (it->get() != out) continue;
    retiring_.erase(it);
    break;
  }
  output_by_slot_[slot] = nullptr;
  counters_->release_output_slot(slot);
}

void RelayLoop::on_timer() {
  timer_armed_ = false;
  uint64_t packets = 0;
  uint64_t drops = 0;
  if (!read_packet_stats(opts_.packet_fd, &packets, &drops).failed()) {
    CounterBlock::bump(counters_->loop(kernel_packets), packets);
    CounterBlock::bump(counters_->loop(kernel_drops), drops);
  }
  // Summaries of rate-limited errors at most once a second.
  if (++ticks_ % ticks_per_second() == 0 && limiter_.flush() > 0 && notify_) notify_();
  if (!gso_off_.empty()) retry_gso();
  if (!stopping_) arm_timer();
}

}  // namespace mcr
