// RingWait: the relay loop's one blocking call, "submit what is queued and
// sleep until `wait_nr` completions", made so that the sleep is not counted
// as I/O wait where the kernel allows it.
//
// Why not liburing's io_uring_submit_and_wait: the kernel counts a task
// sleeping in io_uring_enter with requests in flight as waiting for I/O
// (the loop always has its input's poll, the command read and the stats
// timer in flight), so a worker's idle core showed as `iowait` in top
// and /proc/stat (100 % with no traffic, ~85 % at 10 kpps): a network relay that looked disk-bound to every
// monitor that alerts on iowait. Linux 6.15 lets a caller opt out per call
// (IORING_ENTER_NO_IOWAIT, advertised by IORING_FEAT_NO_IOWAIT); liburing
// has io_uring_set_iowait() for it since 2.10, but the build links Debian
// 12's liburing 2.3, which has neither the call nor a way to add an enter
// flag. So this does what io_uring_submit_and_wait does for a ring without
// SQPOLL or IOPOLL (publish the SQ tail, one io_uring_enter with GETEVENTS)
// with the flag added. It uses only liburing's public ring fields and its
// raw io_uring_enter; liburing's own calls stay in sync with it because
// the SQ bookkeeping is the same (sqe_head follows sqe_tail).
// On kernels before 6.15 no flag is added (an unknown enter flag is
// EINVAL): the wait is the same as liburing's, counted as iowait.
#pragma once
#include <liburing.h>

#include <cstdint>

namespace mcr {

// Linux 6.15's values (include/uapi/linux/io_uring.h), absent from the
// headers this builds against.
constexpr uint32_t kEnterNoIowait = 1u << 7;   // IORING_ENTER_NO_IOWAIT
constexpr uint32_t kFeatNoIowait = 1u << 17;   // IORING_FEAT_NO_IOWAIT

class RingWait {
 public:
  // After io_uring_queue_init_params: `features` from its params;
  // `ring_fd_registered`: io_uring_register_ring_fd returned 1 (the ring's
  // enter_ring_fd is then an index, and each enter must say so).
  void init(uint32_t features, bool ring_fd_registered) {
    no_iowait_ = (features & kFeatNoIowait) != 0;
    ext_arg_ = (features & IORING_FEAT_EXT_ARG) != 0;
    flags_ = IORING_ENTER_GETEVENTS;
    if (no_iowait_) flags_ |= kEnterNoIowait;
    if (ring_fd_registered) flags_ |= IORING_ENTER_REGISTERED_RING;
  }
  // Whether the loop's sleeps are kept out of iowait (Linux 6.15).
  bool no_iowait() const { return no_iowait_; }

  // Submits every queued SQE and waits for `wait_nr` completions (at least
  // 1). Returns the number submitted, or -errno (-EINTR, -EAGAIN, -EBUSY:
  // the caller's turn simply ends).
  int submit_and_wait(io_uring* ring, unsigned wait_nr) const {
    return io_uring_enter(ring->enter_ring_fd, publish(ring), wait_nr, flags_, nullptr);
  }

  // The same, but waiting `ns` at most (-ETIME when that passed first):
  // a timeout passed with the wait (IORING_ENTER_EXT_ARG, Linux 5.11).
  // A kernel without it gets no wait at all, the bound being what matters.
  int submit_and_wait_at_most(io_uring* ring, unsigned wait_nr, uint64_t ns) const {
    const unsigned to_submit = publish(ring);
    if (!ext_arg_) return io_uring_enter(ring->enter_ring_fd, to_submit, 0, flags_, nullptr);
    __kernel_timespec ts{static_cast<int64_t>(ns / 1'000'000'000), static_cast<long long>(ns % 1'000'000'000)};
    io_uring_getevents_arg arg{};
    arg.ts = reinterpret_cast<uint64_t>(&ts);
    return io_uring_enter2(ring->enter_ring_fd, to_submit, wait_nr, flags_ | IORING_ENTER_EXT_ARG,
                           reinterpret_cast<sigset_t*>(&arg), sizeof(arg));
  }

 private:
  // Publishes the queued SQEs (the kernel reads them after the tail);
  // returns how many the kernel has not taken yet.
  static unsigned publish(io_uring* ring) {
    io_uring_sq* sq = &ring->sq;
    const unsigned tail = sq->sqe_tail;
    if (sq->sqe_head != tail) {
      sq->sqe_head = tail;
      __atomic_store_n(sq->ktail, tail, __ATOMIC_RELEASE);
    }
    return tail - *sq->khead;
  }

  bool ext_arg_ = false;
  bool no_iowait_ = false;
  uint32_t flags_ = IORING_ENTER_GETEVENTS;
};

}  // namespace mcr
