// The relay loop: one thread, one io_uring. A multishot receive on the
// AF_PACKET socket fills provided buffers; each frame is parsed, looked up and
// sent to its outputs with SEND ops that point into the same buffer; send
// completions free buffers in the same iteration. Commands arrive through an
// eventfd read posted in the same ring, kernel statistics through a timeout.
// Plain C++ (no Node): the addon runs it on a thread it owns.
#pragma once
#include <liburing.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "core/buffer_pool.h"
#include "core/command_queue.h"
#include "core/counters.h"
#include "core/log_ring.h"
#include "core/packet_ring.h"
#include "core/provided_buffer_ring.h"
#include "core/rule_table.h"
#include "core/send_batch.h"

namespace mcr {

// How frames come in. Both cost no syscall per frame; docs/internals.md and
// docs/ingress-comparison.md say what each costs.
enum class Ingress : uint8_t {
  ring,       // TPACKET_V2 mmap ring woken by a multishot poll
  multishot,  // multishot recv into a provided-buffer ring
};

struct LoopOptions {
  int packet_fd = -1;
  Ingress ingress = Ingress::ring;
  uint32_t ring_depth = 1024;          // SQ entries; CQ gets 4×
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

class RelayLoop {
 public:
  RelayLoop(const LoopOptions& opts, std::shared_ptr<CounterBlock> counters, std::shared_ptr<LogRing> logs,
            std::shared_ptr<CommandQueue> commands, std::function<void()> notify);
  ~RelayLoop();
  RelayLoop(const RelayLoop&) = delete;
  RelayLoop& operator=(const RelayLoop&) = delete;

  // Both on the loop thread: setup() creates the ring there so SINGLE_ISSUER
  // and DEFER_TASKRUN bind to it. 0 or -errno; `failed_step` names the call.
  int setup(const char** failed_step);
  int run();
  const LoopInfo& info() const { return info_; }

 private:
  enum class Op : uint8_t { recv = 1, send = 2, command = 3, timer = 4, cancel = 5, send_batch = 6 };
  static uint64_t tag(Op op, uint64_t extra = 0) { return (uint64_t{static_cast<uint8_t>(op)} << 56) | extra; }
  static Op op_of(uint64_t user_data) { return static_cast<Op>(user_data >> 56); }

  // top: the loop's own reap. mid_scan: from a flush inside on_frame, where
  // commands and the timer must wait (they may change the rule being sent).
  enum class ReapMode : uint8_t { top, mid_scan };

  io_uring_sqe* next_sqe();
  unsigned reap(ReapMode mode);
  void run_deferred();
  void coalesce();
  void flush_batch_if_full();
  void arm_recv();
  void arm_command_read();
  void arm_timer();
  void cancel(Op op);

  void on_recv(const io_uring_cqe* cqe);
  void scan_ring();
  void scan_ring_lap();
  void on_frame(uint16_t bid, const uint8_t* data, uint32_t captured, uint32_t wire_len);
  void send_each(const Rule& rule, uint16_t bid, const uint8_t* payload, uint32_t len);
  void send_one(Output* out, uint16_t bid, const uint8_t* payload, uint32_t len);
  void batch_frame(const Rule* rule, uint16_t bid, const uint8_t* payload, uint32_t len);
  void flush_batch(const Rule* rule);
  void flush_open_batches();
  static bool rule_can_batch(const Rule& rule);
  void on_send(const io_uring_cqe* cqe);
  void on_send_batch(const io_uring_cqe* cqe);
  void on_commands();
  void on_timer();
  void count_send_error(Output* out, int err, uint32_t datagrams);
  void retry_gso();
  // Stats ticks in a second (rounded up): the timer's once-a-second work.
  uint32_t ticks_per_second() const {
    return opts_.stats_interval_ms == 0 ? 1 : (1000 + opts_.stats_interval_ms - 1) / opts_.stats_interval_ms;
  }

  void give_back(uint16_t bid);
  int apply(Command& cmd);
  void install_outputs(Rule& rule);
  void discard_rule(std::unique_ptr<Rule> rule);
  void retire_rule(std::unique_ptr<Rule> rule);
  void destroy_retired(Output* out);
  void update_backpressure();
  bool drained() const;

  LoopOptions opts_;
  LoopInfo info_;
  std::shared_ptr<CounterBlock> counters_;
  std::shared_ptr<LogRing> logs_;
  std::shared_ptr<CommandQueue> commands_;
  std::function<void()> notify_;
  ErrorLogLimiter limiter_;

  io_uring ring_{};
  bool ring_ready_ = false;
  BufferPool pool_;
  ProvidedBufferRing provided_;
  PacketRing packet_ring_;
  uint32_t ring_next_ = 0;  // next ring slot the kernel fills
  RuleTable table_;
  bool batching_ = false;                 // udp_gso with ring ingress
  SendBatchPool batches_;
  std::vector<const Rule*> open_rules_;   // rules with an open batch this scan
  std::vector<uint32_t> gso_off_;         // slots of outputs that fell back, until retried (retry_gso)
  std::vector<Output*> output_by_slot_;
  std::vector<std::unique_ptr<Output>> retiring_;

  uint32_t unsubmitted_ = 0;
  uint32_t inflight_sends_ = 0;
  bool recv_armed_ = false;
  bool recv_cancelling_ = false;
  bool paused_ = false;
  bool command_armed_ = false;
  bool timer_armed_ = false;
  bool stopping_ = false;
  bool reaping_ = false;
  bool commands_ready_ = false;
  bool timer_fired_ = false;
  uint32_t ticks_ = 0;
  uint32_t returns_since_publish_ = 0;
  uint64_t command_value_ = 0;
  __kernel_timespec timer_interval_{};
};

}  // namespace mcr
