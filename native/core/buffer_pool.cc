// Buffer pool memory: one anonymous mapping so buffers are page-aligned and
// the whole pool can be registered or profiled as one region.
#include "core/buffer_pool.h"

#include <sys/mman.h>

#include <cerrno>

namespace mcr {

BufferPool::~BufferPool() {
  if (base_ != nullptr) ::munmap(base_, mapped_);
}

int BufferPool::init(uint32_t count, uint32_t size) {
  if (base_ != nullptr) return -EBUSY;  // one pool, one mapping
  if (count == 0 || count > 32768 || (count & (count - 1)) != 0 || size < 64) return -EINVAL;
  const size_t bytes = size_t{count} * size;
  void* mem = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (mem == MAP_FAILED) return -errno;
  base_ = static_cast<uint8_t*>(mem);
  mapped_ = bytes;
  count_ = count;
  size_ = size;
  refs_.assign(count, 0);
  return 0;
}

}  // namespace mcr

namespace mcr {

int BufferPool::init_accounting(uint32_t count) {
  if (base_ != nullptr || count_ != 0) return -EBUSY;
  if (count == 0 || count > 65536) return -EINVAL;
  count_ = count;
  refs_.assign(count, 0);
  return 0;
}

}  // namespace mcr
