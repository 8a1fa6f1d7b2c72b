// Multishot receive into provided buffers: one completion per frame, each
// handed to FrameForwarder::on_frame() by a direct call.
#include "core/multishot_ingress.h"

#include <sys/socket.h>

#include "core/frame_forwarder.h"
#include "core/send_queue.h"

namespace mcr {
namespace {

constexpr uint16_t kBufferGroup = 7;
constexpr uint32_t kReturnPublishBatch = 32;

}  // namespace

int MultishotIngress::setup(const char** failed_step) {
  int rc;
  if ((rc = p_.pool->init(p_.opts->buffer_count, p_.opts->buffer_size)) != 0) {
    *failed_step = "mmap";
    return rc;
  }
  if ((rc = provided_.init(p_.ring, p_.pool, kBufferGroup)) != 0) {
    *failed_step = "io_uring_register_buf_ring";
    return rc;
  }
  return 0;
}

void MultishotIngress::prep_receive(io_uring_sqe* sqe) {
  // MSG_TRUNC makes packet sockets report the frame's real length, so a
  // frame larger than a buffer is recognised and counted, not forwarded cut.
  io_uring_prep_recv_multishot(sqe, p_.opts->packet_fd, nullptr, 0, MSG_TRUNC);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = provided_.group();
}

void MultishotIngress::on_received(const io_uring_cqe* cqe) {
  if ((cqe->flags & IORING_CQE_F_BUFFER) == 0) return;
  const auto bid = static_cast<uint16_t>(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
  const auto len = static_cast<uint32_t>(cqe->res);
  const uint32_t size = p_.pool->size();
  if (!p_.forwarder->on_frame(bid, p_.pool->address(bid), len < size ? len : size, len)) give_back(bid);
}

void MultishotIngress::update_backpressure() {
  if (stopping_) return;
  const uint32_t inflight = p_.sends->inflight();
  const uint32_t cap = p_.opts->max_inflight_sends;
  if (armed_) {
    // At the cap, stop taking frames: the kernel queues them in the socket
    // and counts what overflows (PACKET_STATISTICS), instead of us queueing
    // without bound.
    if (inflight >= cap && !cancelling_) {
      cancelling_ = cancel();  // without an SQE, tried again next turn
      // One pause, however many turns its cancel takes to get an SQE.
      if (!paused_) CounterBlock::bump(p_.counters->loop(backpressure_pauses));
      paused_ = true;
    }
    return;
  }
  if (paused_ && inflight > cap / 2) return;
  paused_ = false;
  // With every buffer held the receive would end at once with ENOBUFS.
  if (p_.pool->held() < p_.pool->count()) arm();
}

void MultishotIngress::give_back(uint16_t bid) {
  provided_.give_back(bid);
  // Publish in small groups so a long completion batch does not starve the
  // receive of buffers until the end of the iteration.
  static_assert(kReturnPublishBatch > 0);
  if (++returns_since_publish_ >= kReturnPublishBatch) {
    provided_.publish();
    returns_since_publish_ = 0;
  }
}

}  // namespace mcr
