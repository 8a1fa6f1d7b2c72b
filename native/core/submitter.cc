// Submission: the only syscalls on the send path are these io_uring_submit
// calls, one per `batch` sends (and one when the SQ runs full).
#include "core/submitter.h"

namespace mcr {

io_uring_sqe* Submitter::next_sqe_after_submit() {
  // SQ full: hand what we have to the kernel and take a fresh slot.
  io_uring_submit(ring_);
  CounterBlock::bump(counters_->loop(submit_calls));
  unsubmitted_ = 0;
  return io_uring_get_sqe(ring_);
}

bool Submitter::cancel(Op op) {
  io_uring_sqe* sqe = next_sqe();
  if (sqe == nullptr) return false;
  io_uring_prep_cancel64(sqe, tag(op), 0);
  sqe->user_data = tag(Op::cancel);
  return true;
}

void Submitter::submit_and_reap() {
  io_uring_submit(ring_);
  CounterBlock::bump(counters_->loop(submit_calls));
  unsubmitted_ = 0;
  // UDP sends mostly complete inside the submit: reap them now, not after
  // the whole ring lap (see the header).
  mid_walk_reap_(reap_ctx_);
}

}  // namespace mcr
