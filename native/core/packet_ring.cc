// Ring geometry: slots are a power of two in size so whole slots tile each
// block exactly (the kernel never lets a frame straddle blocks), blocks are
// at least 64 KiB (page multiples, as PACKET_RX_RING requires).
#include "core/packet_ring.h"

#include <sys/mman.h>
#include <sys/socket.h>

#include <cerrno>

namespace mcr {

PacketRing::~PacketRing() {
  if (base_ != nullptr) ::munmap(base_, mapped_);
}

int PacketRing::init(int packet_fd, uint32_t count, uint32_t max_frame) {
  if (count == 0 || count > 65536 || base_ != nullptr) return -EINVAL;
  // Header, sockaddr_ll and the kernel's 16-byte alignment slack before the
  // MAC header, then the frame itself.
  const uint32_t needed = TPACKET_ALIGN(TPACKET2_HDRLEN) + 16 + max_frame;
  uint32_t slot = 256;
  while (slot < needed) slot <<= 1;
  const uint32_t block = slot < 65536 ? 65536 : slot;
  const uint32_t per_block = block / slot;
  const uint32_t blocks = (count + per_block - 1) / per_block;

  const int version = TPACKET_V2;
  if (::setsockopt(packet_fd, SOL_PACKET, PACKET_VERSION, &version, sizeof(version)) != 0) return -errno;
  tpacket_req req{};
  req.tp_block_size = block;
  req.tp_block_nr = blocks;
  req.tp_frame_size = slot;
  req.tp_frame_nr = blocks * per_block;
  if (::setsockopt(packet_fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) != 0) return -errno;
  const size_t bytes = size_t{block} * blocks;
  void* mem = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, packet_fd, 0);
  if (mem == MAP_FAILED) return -errno;
  base_ = static_cast<uint8_t*>(mem);
  mapped_ = bytes;
  count_ = req.tp_frame_nr;
  slot_size_ = slot;
  return 0;
}

}  // namespace mcr
