// The TPACKET_V2 receive ring (packet(7), PACKET_RX_RING): the kernel copies
// each frame into the next free slot of a ring shared with us, in its receive
// softirq, and wakes a poll. The loop walks ready slots in order, forwards
// straight out of them (no copy, no skb queue, no per-frame CQE) and hands a
// slot back once its last send completed. V2 rather than V3: V3 hands over
// whole blocks on a retire timeout, which adds up to that timeout of latency
// at low rates; V2 wakes per frame when idle and batches under load.
#pragma once
#include <linux/if_packet.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace mcr {

struct RingFrame {
  const uint8_t* data;   // the Ethernet frame
  uint32_t captured;     // bytes in the slot (tp_snaplen)
  uint32_t wire_len;     // the frame's real length (tp_len): > captured = cut
  uint64_t arrival_ns;   // the kernel's receive timestamp (Unix ns)
};

class PacketRing {
 public:
  PacketRing() = default;
  ~PacketRing();
  PacketRing(const PacketRing&) = delete;
  PacketRing& operator=(const PacketRing&) = delete;

  // Sets TPACKET_V2 and an RX ring of `count` slots (≤ 65536) big enough for
  // `max_frame` bytes each, and maps it. 0 or -errno.
  int init(int packet_fd, uint32_t count, uint32_t max_frame);

  uint32_t count() const { return count_; }
  uint32_t slot_size() const { return slot_size_; }

  // True when the kernel filled the slot and it is ours to read.
  bool ready(uint32_t i) const {
    return (status(i).load(std::memory_order_acquire) & TP_STATUS_USER) != 0;
  }
  RingFrame frame(uint32_t i) const {
    const auto* hdr = reinterpret_cast<const tpacket2_hdr*>(slot(i));
    return RingFrame{slot(i) + hdr->tp_mac, hdr->tp_snaplen, hdr->tp_len,
                     uint64_t{hdr->tp_sec} * 1000000000u + hdr->tp_nsec};
  }
  // Asks the CPU to start loading slot i's header and the frame's first
  // bytes (its Ethernet, IP and UDP headers), which the walk reads a few
  // slots later. Slots are 2 KiB apart, so the hardware prefetcher does not
  // see a stream; a full ring's oldest frames are no longer in cache. A hint
  // only: it never faults, whatever the slot holds.
  void prefetch(uint32_t i) const {
    const uint8_t* s = slot(i);
    __builtin_prefetch(s, 0, 3);
    __builtin_prefetch(s + 64, 0, 3);
    __builtin_prefetch(s + 128, 0, 3);
  }
  // Gives the slot back; the release store orders our reads (and the sends'
  // use of the data, completed before this) before the kernel's next write.
  void release(uint32_t i) { status(i).store(TP_STATUS_KERNEL, std::memory_order_release); }

 private:
  uint8_t* slot(uint32_t i) const { return base_ + size_t{i} * slot_size_; }
  std::atomic<uint32_t>& status(uint32_t i) const {
    return *reinterpret_cast<std::atomic<uint32_t>*>(slot(i));
  }

  uint8_t* base_ = nullptr;
  size_t mapped_ = 0;
  uint32_t count_ = 0;
  uint32_t slot_size_ = 0;
};

}  // namespace mcr
