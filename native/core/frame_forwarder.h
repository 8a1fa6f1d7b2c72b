// What happens to one received frame: parsed (frame_parser.h), looked up in
// the rules, then either dropped with a counted reason or held with one
// reference per live output and handed to the UDP_SEGMENT batcher (ring
// ingress with batching on) or to one SEND per output. The ingress sources
// call on_frame() directly, once per frame, so this is the loop's per-datagram
// path; nothing here allocates, locks or makes a syscall.
#pragma once
#include <cstdint>
#include <cstring>

#include "core/buffer_pool.h"
#include "core/counters.h"
#include "core/gso_batcher.h"
#include "core/loop_rules.h"
#include "core/send_queue.h"

namespace mcr {

class FrameForwarder {
 public:
  FrameForwarder(uint32_t buffer_size, CounterBlock* counters, const LoopRules* rules, BufferPool* pool,
                 SendQueue* sends)
      : buffer_size_(buffer_size), counters_(counters), rules_(rules), pool_(pool), sends_(sends) {}
  // Datagrams go into UDP_SEGMENT batches from now on (setup(), ring ingress only).
  void set_batcher(GsoBatcher* batcher) { batcher_ = batcher; }
  // The input interface's own MAC (null: none known), which the loop reads
  // on its stats tick (read_bound_mac): a frame carrying it as its source
  // was sent by this host out of the input and came back (a hairpin or a
  // loop on the input's segment), and is not relayed (sent_by).
  void set_input_mac(const uint8_t* mac) {
    has_input_mac_ = mac != nullptr;
    if (mac != nullptr) std::memcpy(input_mac_, mac, sizeof(input_mac_));
  }

  // The frame in buffer `bid`: `captured` bytes of a frame `wire_len` long.
  // True when sends hold the buffer now (the last to complete gives it back);
  // false when the frame was dropped and the caller gives the buffer back.
  // `arrival_ns`: when the frame arrived (Unix ns; the ring's kernel
  // timestamp), or 0 when the ingress has none (then a monitored rule reads
  // the clock itself).
  bool on_frame(uint16_t bid, const uint8_t* data, uint32_t captured, uint32_t wire_len, uint64_t arrival_ns = 0);
  // End of a walk: open batches go out, so none waits past the walk that
  // filled it (no latency beyond reading what was already waiting).
  void end_walk() {
    if (batcher_ != nullptr) batcher_->flush_open();
  }

 private:
  bool sent_by(const Rule& rule, const uint8_t* data) const;

  uint32_t buffer_size_;
  CounterBlock* counters_;
  const LoopRules* rules_;
  BufferPool* pool_;
  SendQueue* sends_;
  GsoBatcher* batcher_ = nullptr;
  uint8_t input_mac_[6] = {};
  bool has_input_mac_ = false;
};

}  // namespace mcr
