// Shared pieces of the ingress comparison benchmark (ingress_compare): the
// options both receive methods take, the tally they fill, and the io_uring
// loop skeleton they share (ring set-up, the stop timer, io_uring_enter
// counting, per-frame parse and count). Keeping these in one place means the
// two methods differ only in how a frame reaches user space and how its
// memory goes back to the kernel, which is exactly what is being compared.
#pragma once
#include <liburing.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <ctime>
#include <string>

#include "core/frame_parser.h"

namespace mcr::bench {

struct BenchOptions {
  std::string interface;
  std::string mode;                 // "multishot" or "tpacket"
  double seconds = 5;               // run length; SIGINT/SIGTERM end it early
  // tpacket (TPACKET_V3 ring) geometry, packet(7) / Documentation/networking/packet_mmap.rst
  uint32_t block_size = 1u << 20;
  uint32_t block_count = 64;
  uint32_t frame_size = 2048;
  uint32_t retire_ms = 1;
  // multishot (provided-buffer ring): the relay's defaults (LoopOptions)
  uint32_t buffer_count = 4096;
  uint32_t buffer_size = 2048;
  // Wake-up policy for either mode: with wait_nr > 1 and wait_us > 0 each
  // io_uring_enter waits for wait_nr CQEs or wait_us, whichever comes first
  // (IORING_ENTER_EXT_ARG timeout) — the io_uring analogue of a block retire
  // timeout. Default: return on the first CQE, as the relay does.
  uint32_t wait_nr = 1;
  uint32_t wait_us = 0;
};

// What a run saw. Filled by the mode, printed as one JSON line by main.
struct Tally {
  uint64_t frames = 0;
  uint64_t parsed_ok = 0;
  uint64_t payload_bytes = 0;
  uint64_t drop_reasons[kDropReasonCount] = {};
  uint64_t truncated = 0;         // captured < length on the wire
  uint64_t syscalls = 0;          // io_uring_enter calls this thread made
  uint64_t cqes = 0;              // recv CQEs (multishot) or poll CQEs (tpacket)
  uint64_t rearms = 0;            // multishot request re-armed after it ended
  uint64_t enobufs = 0;           // multishot recv found the buffer ring empty
  uint64_t blocks = 0;            // tpacket blocks consumed
  uint64_t kernel_packets = 0;    // PACKET_STATISTICS tp_packets
  uint64_t kernel_drops = 0;      // PACKET_STATISTICS tp_drops
  uint64_t freeze_count = 0;      // tpacket_stats_v3 tp_freeze_q_cnt
  // tpacket only: time a frame sat in the ring, kernel rx timestamp → walk.
  double ring_wait_us_sum = 0;
  double ring_wait_us_max = 0;
  int64_t first_frame_ns = -1;    // CLOCK_MONOTONIC at the first / last batch
  int64_t last_frame_ns = -1;     // that carried frames

  // The per-frame work, identical for both modes: parse and count.
  void frame(const uint8_t* data, size_t captured) {
    Datagram d;
    const DropReason reason = parse_frame(data, captured, &d);
    ++frames;
    ++drop_reasons[static_cast<size_t>(reason)];
    if (reason == DropReason::none) {
      ++parsed_ok;
      payload_bytes += d.payload_len;
    }
  }
};

// Set by the SIGINT/SIGTERM handler main installs (without SA_RESTART, so a
// blocked io_uring_enter returns -EINTR and the loop sees it).
extern volatile sig_atomic_t g_stop;

inline int64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

constexpr uint64_t kStopTag = ~uint64_t{0};

// One io_uring on the calling thread, set up like the relay's loop
// (SINGLE_ISSUER + DEFER_TASKRUN when the kernel has them, CQ 4× SQ), with a
// timeout SQE that ends the run.
class BenchRing {
 public:
  ~BenchRing() {
    if (ready_) io_uring_queue_exit(&ring_);
  }
  int init(uint32_t sq_entries) {
    io_uring_params p{};
    p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER |
              IORING_SETUP_DEFER_TASKRUN;
    p.cq_entries = sq_entries * 4;
    int rc = io_uring_queue_init_params(sq_entries, &ring_, &p);
    if (rc != 0) {
      // Pre-6.1 kernel: same ring without deferred task work.
      io_uring_params plain{};
      plain.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
      plain.cq_entries = sq_entries * 4;
      rc = io_uring_queue_init_params(sq_entries, &ring_, &plain);
    }
    if (rc != 0) return rc;
    ready_ = true;
    registered_ = io_uring_register_ring_fd(&ring_) == 1;  // optional speed-up, as in the relay
    return 0;
  }
  io_uring* get() { return &ring_; }
  void set_wait(uint32_t nr, uint32_t us) {
    wait_nr_ = nr;
    wait_.tv_sec = us / 1000000;
    wait_.tv_nsec = static_cast<long long>(us % 1000000) * 1000;
  }

  // One wait for completions, counting every io_uring_enter(2) it makes.
  int wait(Tally* t) {
    if (wait_nr_ <= 1 || (wait_.tv_sec == 0 && wait_.tv_nsec == 0)) {
      // With wait_nr = 1 liburing always enters the kernel: exactly one call.
      ++t->syscalls;
      return io_uring_submit_and_wait(&ring_, 1);
    }
    if (io_uring_sq_ready(&ring_) > 0) {
      ++t->syscalls;
      const int rc = io_uring_submit(&ring_);
      if (rc < 0) return rc;
    }
    // Called directly rather than through io_uring_submit_and_wait_timeout,
    // which may enter more than once, so the count stays exact.
    io_uring_getevents_arg arg{};
    arg.ts = reinterpret_cast<uint64_t>(&wait_);
    unsigned flags = IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG;
    if (registered_) flags |= IORING_ENTER_REGISTERED_RING;
    ++t->syscalls;
    return io_uring_enter2(registered_ ? ring_.enter_ring_fd : ring_.ring_fd, 0, wait_nr_, flags,
                           reinterpret_cast<sigset_t*>(&arg), sizeof(arg));
  }

  // Runs until the stop timer fires or a signal arrives. on_cqe(cqe) sees
  // every CQE but the timer's; after_batch() runs once per wake-up after the
  // CQEs were reaped (buffer hand-back, ring walk, re-arming). `ready` is
  // called once everything is armed, just before the first wait.
  template <typename OnCqe, typename AfterBatch, typename Ready>
  int run(double seconds, Tally* t, OnCqe on_cqe, AfterBatch after_batch, Ready ready) {
    stop_.tv_sec = static_cast<long long>(seconds);
    stop_.tv_nsec = static_cast<long long>((seconds - static_cast<double>(stop_.tv_sec)) * 1e9);
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) return -EBUSY;
    io_uring_prep_timeout(sqe, &stop_, 0, 0);
    sqe->user_data = kStopTag;
    ready();
    bool stopping = false;
    while (!stopping && !g_stop) {
      const int rc = wait(t);
      if (rc < 0 && rc != -EINTR && rc != -ETIME && rc != -EAGAIN && rc != -EBUSY) return rc;
      const uint64_t before = t->frames;
      unsigned head;
      unsigned seen = 0;
      io_uring_cqe* cqe;
      io_uring_for_each_cqe(&ring_, head, cqe) {
        ++seen;
        if (cqe->user_data == kStopTag) {
          stopping = true;
          continue;
        }
        on_cqe(cqe);
      }
      io_uring_cq_advance(&ring_, seen);
      after_batch(stopping);
      if (t->frames != before) {
        const int64_t now = monotonic_ns();
        if (t->first_frame_ns < 0) t->first_frame_ns = now;
        t->last_frame_ns = now;
      }
    }
    return 0;
  }

 private:
  io_uring ring_{};
  bool ready_ = false;
  bool registered_ = false;
  uint32_t wait_nr_ = 1;
  __kernel_timespec wait_{};
  __kernel_timespec stop_{};
};

// The two receive methods. Both take an AF_PACKET socket from
// mcr::open_packet_socket, set themselves up, call ready(), run for
// opts.seconds and fill *t. 0 or -errno; *failed names the step that failed.
using ReadyFn = void (*)(void*);
int run_multishot(const BenchOptions& opts, int fd, Tally* t, const char** failed, ReadyFn ready, void* arg);
int run_tpacket(const BenchOptions& opts, int fd, Tally* t, const char** failed, ReadyFn ready, void* arg);

}  // namespace mcr::bench
