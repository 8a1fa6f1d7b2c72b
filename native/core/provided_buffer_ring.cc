// Provided-buffer ring registration. liburing 2.3 (Debian 12) has no
// io_uring_setup_buf_ring(), so the ring memory is mapped and registered here.
#include "core/provided_buffer_ring.h"

#include <sys/mman.h>

#include <cerrno>

namespace mcr {

ProvidedBufferRing::~ProvidedBufferRing() {
  if (br_ == nullptr) return;
  if (ring_ != nullptr) io_uring_unregister_buf_ring(ring_, group_);
  ::munmap(br_, mapped_);
}

int ProvidedBufferRing::init(io_uring* ring, BufferPool* pool, uint16_t group) {
  const uint32_t entries = pool->count();
  mapped_ = size_t{entries} * sizeof(io_uring_buf);
  void* mem = ::mmap(nullptr, mapped_, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (mem == MAP_FAILED) return -errno;
  br_ = static_cast<io_uring_buf_ring*>(mem);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uint64_t>(mem);
  reg.ring_entries = entries;
  reg.bgid = group;
  const int rc = io_uring_register_buf_ring(ring, &reg, 0);
  if (rc < 0) {
    ::munmap(mem, mapped_);
    br_ = nullptr;
    return rc;
  }
  ring_ = ring;
  pool_ = pool;
  group_ = group;
  io_uring_buf_ring_init(br_);
  mask_ = io_uring_buf_ring_mask(entries);
  for (uint32_t bid = 0; bid < entries; ++bid) give_back(static_cast<uint16_t>(bid));
  publish();
  return 0;
}

}  // namespace mcr
