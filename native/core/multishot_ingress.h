// Multishot ingress (--ingress multishot): one multishot IORING_OP_RECV on
// the packet socket picks a buffer per frame from a provided-buffer ring
// (provided_buffer_ring.h) over the BufferPool's memory and posts one CQE per
// frame, handled inside the reap. Given-back buffers are published to the
// kernel in groups of 32 and after every reap, so the receive never waits
// for a whole completion batch. Frames are never batched (nothing walks).
#pragma once
#include <cstdint>

#include "core/ingress_source.h"
#include "core/provided_buffer_ring.h"

namespace mcr {

class MultishotIngress final : public IngressSource {
 public:
  explicit MultishotIngress(const IngressParts& parts) : IngressSource(parts) {}

  int setup(const char** failed_step) override;
  // Publishes the buffers given back since the last publish.
  void after_reap() override { provided_.publish(); }
  // Cancels the receive at the in-flight cap, re-arms it below half of it
  // while a buffer is free.
  void update_backpressure() override;
  void release(const uint16_t* ids, uint32_t n) override {
    for (uint32_t i = 0; i < n; ++i) give_back(ids[i]);
  }

 private:
  void prep_receive(io_uring_sqe* sqe) override;
  void on_received(const io_uring_cqe* cqe) override;
  void give_back(uint16_t bid);

  ProvidedBufferRing provided_;
  uint32_t returns_since_publish_ = 0;
};

}  // namespace mcr
