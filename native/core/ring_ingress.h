// Ring ingress (the default): a TPACKET_V2 receive ring (packet_ring.h)
// mapped into the process and one multishot poll on the packet socket. A
// poll completion only says frames are there; after each reap the loop has
// the ring walked from where the last walk stopped, while slots are ready.
// With DEFER_TASKRUN the wake-ups between two io_uring_enter calls fold into
// one completion, so a busy ring is walked in batches. Buffer ids are slot
// numbers; giving one back is a release store of TP_STATUS_KERNEL.
#pragma once
#include <cstdint>

#include "core/ingress_source.h"
#include "core/packet_ring.h"

namespace mcr {

class RingIngress final : public IngressSource {
 public:
  explicit RingIngress(const IngressParts& parts) : IngressSource(parts) {}

  int setup(const char** failed_step) override;
  // Walks the ring if the poll is armed.
  void after_reap() override;
  // The poll stays armed while paused; pausing only stops the walks.
  void update_backpressure() override;
  void release(const uint16_t* ids, uint32_t n) override {
    for (uint32_t i = 0; i < n; ++i) packet_ring_.release(ids[i]);
  }
  bool burst_capped() const override { return capped_; }
  bool frames_visible_without_enter() const override { return true; }

 private:
  void prep_receive(io_uring_sqe* sqe) override;
  void on_received(const io_uring_cqe*) override {}
  void walk();
  void walk_lap();

  // How far ahead the walk prefetches (ring_ingress.cc): handling 4 frames
  // (about a microsecond each) takes several times a miss to memory, so the
  // lines arrive in time. The ring has at least 16 slots (bufferCount's
  // minimum), so the slot ahead is never the one being read.
  static constexpr uint32_t kPrefetchSlots = 4;

  PacketRing packet_ring_;
  uint32_t next_ = 0;  // next ring slot the kernel fills
  bool capped_ = false;  // the last walk stopped at the coalescing burst cap
  bool exhausted_ = false;  // next_ is held by in-flight sends (counted when it began)
};

}  // namespace mcr
