// The kernel side of the buffer pool: an io_uring provided-buffer ring
// (IORING_REGISTER_PBUF_RING, Linux 5.19) from which multishot receives pick a
// buffer per frame, so ingress needs no syscall and no SQE per packet.
#pragma once
#include <liburing.h>

#include <cstdint>

#include "core/buffer_pool.h"

namespace mcr {

class ProvidedBufferRing {
 public:
  ~ProvidedBufferRing();
  // Registers a ring of pool.count() entries as group `group`, filled with
  // every buffer. 0 or -errno.
  int init(io_uring* ring, BufferPool* pool, uint16_t group);
  // Queue a buffer for return; publish() makes all queued ones visible.
  void give_back(uint16_t bid) {
    io_uring_buf_ring_add(br_, pool_->address(bid), pool_->size(), bid, mask_, pending_++);
  }
  void publish() {
    if (pending_ == 0) return;
    io_uring_buf_ring_advance(br_, pending_);
    pending_ = 0;
  }
  uint16_t group() const { return group_; }

 private:
  io_uring* ring_ = nullptr;
  BufferPool* pool_ = nullptr;
  io_uring_buf_ring* br_ = nullptr;
  size_t mapped_ = 0;
  int mask_ = 0;
  int pending_ = 0;
  uint16_t group_ = 0;
};

}  // namespace mcr
