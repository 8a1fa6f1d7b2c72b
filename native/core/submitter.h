// The submission queue of the loop's ring, shared by every request: hands
// out SQEs (submitting what is queued when the SQ is full) and submits every
// `batch` queued sends, after which it runs the loop's mid-walk reap at once:
// UDP sends mostly complete inside the submit, so reaping them then keeps
// the in-flight count to what the kernel really holds, and back-pressure
// engages only when sends truly back up. Everything else goes with the
// loop's own submit at the top of each turn.
#pragma once
#include <liburing.h>

#include <cstdint>

#include "core/counters.h"
#include "core/request_tag.h"

namespace mcr {

class Submitter {
 public:
  // The loop's mid-walk reap: a function pointer, so this class needs no
  // loop; called once per `batch` sends, not per datagram. It does nothing
  // when the sends were queued from inside the loop's own reap (multishot
  // frames are handled there).
  using ReapFn = void (*)(void* ctx);

  Submitter(io_uring* ring, uint32_t batch, CounterBlock* counters, ReapFn mid_walk_reap, void* reap_ctx)
      : ring_(ring), batch_(batch), counters_(counters), mid_walk_reap_(mid_walk_reap), reap_ctx_(reap_ctx) {}

  // An SQE for any request; when the SQ is full, what is queued is submitted
  // first. Null only if the SQ is still full after that.
  io_uring_sqe* next_sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(ring_);
    return sqe != nullptr ? sqe : next_sqe_after_submit();
  }
  // A send was prepared in an SQE from next_sqe(): submit (then reap) once
  // `batch` of them wait.
  void queued() {
    if (++unsubmitted_ >= batch_) submit_and_reap();
  }
  // The loop's own submit at the top of a turn took everything queued.
  void submitted() { unsubmitted_ = 0; }
  // Sends queued since the last submit: each posts one completion, most of
  // them inside the submit that takes them (RelayLoop::wait_count()).
  uint32_t unsubmitted() const { return unsubmitted_; }
  // Asks the kernel to cancel the request tagged `op` (the receive or the
  // timer); false when no SQE could be had (asked again next turn).
  bool cancel(Op op);

 private:
  io_uring_sqe* next_sqe_after_submit();
  void submit_and_reap();

  io_uring* ring_;
  uint32_t batch_;
  CounterBlock* counters_;
  ReapFn mid_walk_reap_;
  void* reap_ctx_;
  uint32_t unsubmitted_ = 0;  // sends queued since the last submit
};

}  // namespace mcr
