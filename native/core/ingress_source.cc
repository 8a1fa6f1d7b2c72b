// The receive request's lifecycle, the same for both sources: one multishot
// request that the kernel may end (CQ overflow, an empty buffer ring, an
// error, a cancel), after which the source's back-pressure re-arms it.
#include "core/ingress_source.h"

#include <cerrno>

namespace mcr {

void IngressSource::arm() {
  io_uring_sqe* sqe = p_.submitter->next_sqe();
  if (sqe == nullptr) return;
  prep_receive(sqe);
  sqe->user_data = tag(Op::recv);
  armed_ = true;
  CounterBlock::bump(p_.counters->loop(recv_arms));
}

void IngressSource::on_completion(const io_uring_cqe* cqe) {
  if ((cqe->flags & IORING_CQE_F_MORE) == 0) {
    armed_ = false;
    cancelling_ = false;
  }
  if (cqe->res < 0) {
    if (cqe->res == -ENOBUFS) {
      CounterBlock::bump(p_.counters->loop(recv_buffer_exhausted));
    } else if (cqe->res != -ECANCELED) {
      CounterBlock::bump(p_.counters->loop(recv_errors));
      p_.limiter->report(-1, -cqe->res, errno_name(-cqe->res), "receive failed on the input socket");  // counts a dropped line itself
    }
    return;
  }
  on_received(cqe);
}

void IngressSource::stop() {
  stopping_ = true;
  stop_cancel_queued_ = armed_ && cancel();
}

void IngressSource::keep_stopping() {
  if (stopping_ && armed_ && !stop_cancel_queued_) stop_cancel_queued_ = cancel();
}

}  // namespace mcr
