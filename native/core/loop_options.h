// What a relay loop is asked to do (LoopOptions, filled by the addon from the
// worker's flags) and what its setup settled on (LoopInfo). Its own header
// so the loop's parts (ingress sources, batcher) can read the options
// without depending on the loop itself.
#pragma once
#include <cstdint>

namespace mcr {

// How frames come in. Both cost no syscall per frame; docs/internals.md and
// docs/ingress-comparison.md say what each costs.
enum class Ingress : uint8_t {
  ring,       // TPACKET_V2 mmap ring woken by a multishot poll (the default)
  multishot,  // multishot recv into a provided-buffer ring
};

struct LoopOptions {
  int packet_fd = -1;
  Ingress ingress = Ingress::ring;
  uint32_t ring_depth = 1024;          // SQ entries; the CQ is sized in RelayLoop::setup()
  uint32_t batch = 64;                 // sends per io_uring_enter at most
  uint32_t buffer_count = 4096;        // buffers or ring slots; power of two ≤ 32768
  uint32_t buffer_size = 2048;         // largest frame accepted
  uint32_t max_inflight_sends = 8192;  // back-pressure threshold
  uint32_t stats_interval_ms = 100;
  uint32_t busy_poll_us = 0;           // keep polling this long after the last work before sleeping; 0 = sleep at once
  bool defer_taskrun = true;           // SINGLE_ISSUER|DEFER_TASKRUN when the kernel has them
  bool udp_gso = true;                 // batch waiting datagrams of a flow into UDP_SEGMENT sends (ring ingress)
  uint32_t coalesce_us = 0;            // after a walk that forwarded frames, sleep this long before the next; 0 = off
};

// What setup settled on, for logs and docs.
struct LoopInfo {
  bool defer_taskrun = false;
  uint32_t sq_entries = 0;
  uint32_t cq_entries = 0;
};

}  // namespace mcr
