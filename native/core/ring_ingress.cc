// The ring walk: the hot loop of ring ingress. Each ready slot goes to
// FrameForwarder::on_frame() by a direct call; back-pressure is checked per
// frame against a plain counter, so a walk stops as soon as sends pile up.
#include "core/ring_ingress.h"

#include <poll.h>

#include "core/frame_forwarder.h"
#include "core/send_queue.h"

namespace mcr {

int RingIngress::setup(const char** failed_step) {
  int rc;
  if ((rc = packet_ring_.init(p_.opts->packet_fd, p_.opts->buffer_count, p_.opts->buffer_size)) != 0) {
    *failed_step = "PACKET_RX_RING";
    return rc;
  }
  if ((rc = p_.pool->init_accounting(packet_ring_.count())) != 0) {
    *failed_step = "buffer accounting";
    return rc;
  }
  return 0;
}

void RingIngress::prep_receive(io_uring_sqe* sqe) {
  // One CQE per wake-up, and with DEFER_TASKRUN wake-ups between two
  // io_uring_enter calls fold into one: a busy ring is drained in batches.
  io_uring_prep_poll_multishot(sqe, p_.opts->packet_fd, POLLIN);
}

void RingIngress::after_reap() {
  // The ring is shared memory: new frames are visible without a CQE, so the
  // walk runs every turn the poll is armed, not only after a poll CQE.
  if (armed_) walk();
}

void RingIngress::update_backpressure() {
  // The poll stays armed; pausing means leaving frames in the ring, where
  // the kernel drops (and counts) what does not fit.
  if (stopping_) return;
  const uint32_t inflight = p_.sends->inflight();
  const uint32_t cap = p_.opts->max_inflight_sends;
  if (!paused_ && inflight >= cap) {
    paused_ = true;
    CounterBlock::bump(p_.counters->loop(backpressure_pauses));
  } else if (paused_ && inflight <= cap / 2) {
    paused_ = false;
    walk();  // the kernel does not wake us for frames already waiting
  }
  if (!armed_) arm();
}

void RingIngress::walk() {
  walk_lap();
  // Batches never wait past the walk that filled them: no added latency
  // beyond the time to read what was already waiting.
  p_.forwarder->end_walk();
}

void RingIngress::walk_lap() {
  // With pauses possible (coalescing, or the adaptive policy's
  // moderation), a walk also ends once its frames have queued
  // kCoalesceBurstSends sends (frames × live outputs): a pause that ran
  // long (a loaded host oversleeps) must not turn into one burst of
  // thousands of back-to-back datagrams at the receivers. The loop skips the
  // pause after a capped walk, and its next wait is bounded (frames already
  // in the ring raise no completion: kCappedWaitNs), so the rest follows in
  // bounded pieces with a reap between them.
  capped_ = false;
  const bool capping = p_.opts->coalesce_us > 0 || p_.opts->busy_poll == BusyPoll::adaptive;
  const uint64_t queued_at_start = capping ? p_.counters->loop(sends_queued).load(std::memory_order_relaxed) : 0;
  // Bounded to one lap so completions are reaped between laps.
  for (uint32_t n = 0; n < packet_ring_.count() && !paused_ && !stopping_; ++n) {
    if (capping &&
        p_.counters->loop(sends_queued).load(std::memory_order_relaxed) - queued_at_start >= kCoalesceBurstSends) {
      capped_ = packet_ring_.ready(next_);
      if (capped_) CounterBlock::bump(p_.counters->loop(coalesce_capped));
      return;
    }
    const uint32_t i = next_;
    if (p_.pool->refs(static_cast<uint16_t>(i)) != 0) {
      // The ring wrapped onto a slot whose sends are still in flight: the
      // kernel is blocked there too until it completes. Counted once per
      // stall (docs/relay.md: "times receiving stopped"), not once per
      // turn that finds it still held.
      if (!exhausted_) CounterBlock::bump(p_.counters->loop(recv_buffer_exhausted));
      exhausted_ = true;
      return;
    }
    if (!packet_ring_.ready(i)) return;
    exhausted_ = false;
    next_ = i + 1 == packet_ring_.count() ? 0 : i + 1;
    // Behind (a full ring after a stall or an overrun), each frame read is a
    // cache miss, and the loop could not catch up at rates it forwards when
    // it keeps up; loading a few slots ahead hides that. Kept up, the slots
    // ahead are still empty and the hint costs next to nothing.
    packet_ring_.prefetch(i + kPrefetchSlots < packet_ring_.count() ? i + kPrefetchSlots : i + kPrefetchSlots - packet_ring_.count());
    const RingFrame f = packet_ring_.frame(i);
    if (!p_.forwarder->on_frame(static_cast<uint16_t>(i), f.data, f.captured, f.wire_len, f.arrival_ns)) packet_ring_.release(i);
    if (p_.sends->inflight() >= p_.opts->max_inflight_sends) update_backpressure();
  }
}

}  // namespace mcr
