// What a relay loop is asked to do (LoopOptions, filled by the addon from the
// worker's flags) and what its setup settled on (LoopInfo). Its own header
// so the loop's parts (ingress sources, batcher) can read the options
// without depending on the loop itself.
#pragma once
#include <cstdint>

#include "core/poll_policy.h"

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
  BusyPoll busy_poll = BusyPoll::adaptive;  // how the loop waits after a turn: sleep, poll or pause (poll_policy.h)
  uint32_t busy_poll_us = 0;           // BusyPoll::fixed: keep polling this long after the last frame
  bool defer_taskrun = true;           // SINGLE_ISSUER|DEFER_TASKRUN when the kernel has them
  bool udp_gso = true;                 // batch waiting datagrams of a flow into UDP_SEGMENT sends (ring ingress)
  uint32_t coalesce_us = 0;            // after a walk that forwarded frames, sleep this long before the next; 0 = off
  int loop_cpu = -1;                   // pin the loop thread (only) to this CPU; -1 = leave it where the process is
  int loop_rt_priority = 0;            // SCHED_FIFO priority of the loop thread (1..99); 0 = the normal policy
  bool loop_rt_best_effort = false;    // "auto" resolved: a refused SCHED_FIFO leaves the normal policy (with the slice), and start() says why
  uint32_t loop_slice_us = 100;        // custom scheduler slice of the loop thread (100..100000 us); 0 = the kernel's; 100 = AUTO_LOOP_SLICE_US (common/loop-settings.ts)
  bool loop_slice_best_effort = true;  // the default ("auto"): a kernel that refuses the slice leaves the kernel's, and the addon's start() says why
};

// With pauses possible (coalesce_us > 0, or the adaptive policy's
// moderation), a walk of the ring stops once its
// frames have queued this many sends (datagrams × outputs), and the loop
// skips the pause after such a walk. A pause collects what arrived during
// it, so without a cap a long pause (a loaded host oversleeps a 20 us
// nanosleep by a millisecond) at fan-out 10 ends in thousands of
// back-to-back datagrams, more than a receiver's 1000-packet backlog
// holds. 256 is four full io_uring submissions (batch 64), a quarter of
// that backlog, and above what a 20 us pause gathers at the zero-loss rate
// (~8 frames: 80 sends at fan-out 10), so the cap acts only on bursts.
constexpr uint32_t kCoalesceBurstSends = 256;

// After a walk stopped at that cap the loop waits as after any walk (for
// the next frame, a command or a send's completion), which leaves the
// receivers' backlog the time between two frames to drain before the next
// 256 sends; but at most this long, since the frames left in the ring raise
// no completion: when the burst ends there, the rest would otherwise wait
// for the stats timer, one capped walk per tick (a 3 000-frame burst to 30
// outputs took 32 s with --busy-poll-us 0 --coalesce-us 50, 1.3 s with the
// defaults). Sending the rest at once, without waiting, halved the bench's
// zero-loss rate at 1400 B x10 in one of two runs (the receivers' backlog
// overflowed; docs/performance.md, "The wait after a capped walk").
constexpr uint64_t kCappedWaitNs = 100'000;

// What setup settled on, for logs and docs.
struct LoopInfo {
  bool defer_taskrun = false;
  bool no_iowait = false;  // the loop's sleeps are not counted as iowait (ring_wait.h; Linux 6.15)
  uint32_t sq_entries = 0;
  uint32_t cq_entries = 0;
};

}  // namespace mcr
