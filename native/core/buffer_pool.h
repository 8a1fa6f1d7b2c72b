// Receive buffer pool and fan-out accounting. Frames land in fixed-size
// buffers (one mapping, indexed by buffer id). A frame sent to N outputs holds
// its buffer with N references, one per in-flight send pointing into it, so
// fan-out needs no copy; the last completion gives the buffer back.
// Pure bookkeeping, no io_uring: the loop hands returned ids to the kernel's
// provided-buffer ring, and the unit tests drive this class directly.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace mcr {

class BufferPool {
 public:
  BufferPool() = default;
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // count must be a power of two ≤ 32768 (provided-buffer ring limit);
  // returns 0 or -errno (-EINVAL, -ENOMEM, -EBUSY when already initialised).
  int init(uint32_t count, uint32_t size);

  // Accounting only, for frames that live elsewhere (the TPACKET ring):
  // references without memory. count ≤ 65536. 0 or -errno.
  int init_accounting(uint32_t count);

  uint8_t* address(uint16_t bid) const { return base_ + size_t{bid} * size_; }
  uint32_t count() const { return count_; }
  uint32_t size() const { return size_; }
  uint32_t held() const { return held_; }

  // A received frame becomes owned by `refs` sends (refs ≥ 1).
  void hold(uint16_t bid, uint32_t refs) {
    refs_[bid] = refs;
    ++held_;
  }
  // One send finished. True when it was the last: the buffer is free again.
  bool release(uint16_t bid) {
    if (--refs_[bid] != 0) return false;
    --held_;
    return true;
  }
  uint32_t refs(uint16_t bid) const { return refs_[bid]; }

 private:
  uint8_t* base_ = nullptr;
  size_t mapped_ = 0;
  uint32_t count_ = 0;
  uint32_t size_ = 0;
  uint32_t held_ = 0;
  std::vector<uint32_t> refs_;
};

}  // namespace mcr
