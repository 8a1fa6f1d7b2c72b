// Ingress method B: a TPACKET_V3 receive ring (PACKET_RX_RING, mmap) on the
// AF_PACKET socket, woken by one io_uring multishot poll (POLLIN). The kernel
// copies frames straight into ring blocks and wakes the socket only when it
// closes a block (full, or older than tp_retire_blk_tov ms), so one wake-up
// covers many frames. On each wake the loop walks every block the kernel has
// handed over (TP_STATUS_USER), in ring order, parses each frame in place and
// hands the block back with block_status = TP_STATUS_KERNEL.
// See Documentation/networking/packet_mmap.rst and packet(7).
#include <linux/if_packet.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <algorithm>

#include "bench/ingress_bench.h"

namespace mcr::bench {
namespace {

constexpr uint64_t kPollTag = 2;

double realtime_us() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

// Owns the ring mapping; unmapping it is what tears the ring down with the fd.
struct RingMap {
  uint8_t* base = nullptr;
  size_t bytes = 0;
  ~RingMap() {
    if (base != nullptr) ::munmap(base, bytes);
  }
};

}  // namespace

int run_tpacket(const BenchOptions& opts, int fd, Tally* t, const char** failed, ReadyFn ready, void* arg) {
  const int version = TPACKET_V3;
  if (::setsockopt(fd, SOL_PACKET, PACKET_VERSION, &version, sizeof(version)) != 0) {
    *failed = "setsockopt PACKET_VERSION";
    return -errno;
  }
  tpacket_req3 req{};
  req.tp_block_size = opts.block_size;
  req.tp_block_nr = opts.block_count;
  req.tp_frame_size = opts.frame_size;
  req.tp_frame_nr = static_cast<unsigned>((uint64_t{opts.block_size} / opts.frame_size) * opts.block_count);
  req.tp_retire_blk_tov = opts.retire_ms;
  if (::setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) != 0) {
    *failed = "setsockopt PACKET_RX_RING";
    return -errno;
  }
  RingMap map;
  map.bytes = size_t{opts.block_size} * opts.block_count;
  void* mem = ::mmap(nullptr, map.bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
  if (mem == MAP_FAILED) {
    *failed = "mmap PACKET_RX_RING";
    return -errno;
  }
  map.base = static_cast<uint8_t*>(mem);

  BenchRing ring;
  int rc = ring.init(1024);
  if (rc != 0) {
    *failed = "io_uring_queue_init_params";
    return rc;
  }
  ring.set_wait(opts.wait_nr, opts.wait_us);
  bool armed = false;
  auto arm = [&] {
    io_uring_sqe* sqe = io_uring_get_sqe(ring.get());
    if (sqe == nullptr) return;
    io_uring_prep_poll_multishot(sqe, fd, POLLIN);
    sqe->user_data = kPollTag;
    armed = true;
  };
  arm();

  uint32_t current = 0;
  // Blocks are filled and closed in ring order, so the walk stops at the
  // first block the kernel still owns.
  auto walk = [&] {
    for (;;) {
      auto* block = reinterpret_cast<tpacket_block_desc*>(map.base + size_t{current} * opts.block_size);
      const uint32_t status = __atomic_load_n(&block->hdr.bh1.block_status, __ATOMIC_ACQUIRE);
      if ((status & TP_STATUS_USER) == 0) return;
      const uint32_t count = block->hdr.bh1.num_pkts;
      const uint8_t* p = reinterpret_cast<const uint8_t*>(block) + block->hdr.bh1.offset_to_first_pkt;
      const double now_us = realtime_us();
      for (uint32_t i = 0; i < count; ++i) {
        const auto* h = reinterpret_cast<const tpacket3_hdr*>(p);
        if (h->tp_snaplen < h->tp_len) ++t->truncated;
        t->frame(p + h->tp_mac, h->tp_snaplen);
        // tp_sec/tp_nsec: the kernel's CLOCK_REALTIME receive stamp.
        const double wait = now_us - (static_cast<double>(h->tp_sec) * 1e6 + static_cast<double>(h->tp_nsec) / 1e3);
        t->ring_wait_us_sum += wait;
        t->ring_wait_us_max = std::max(t->ring_wait_us_max, wait);
        p += h->tp_next_offset;
      }
      // Release: our reads of the block happen before the kernel may refill it.
      __atomic_store_n(&block->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
      ++t->blocks;
      current = (current + 1) % opts.block_count;
    }
  };

  auto on_cqe = [&](const io_uring_cqe* cqe) {
    if (cqe->user_data != kPollTag) return;
    ++t->cqes;
    if ((cqe->flags & IORING_CQE_F_MORE) == 0) armed = false;
  };
  auto after_batch = [&](bool stopping) {
    walk();
    if (!armed && !stopping) {
      arm();
      ++t->rearms;
    }
  };
  // Blocks closed before the poll was armed would never wake it: walk once.
  walk();
  rc = ring.run(opts.seconds, t, on_cqe, after_batch, [&] { ready(arg); });
  if (rc != 0) {
    *failed = "io_uring_enter";
    return rc;
  }
  tpacket_stats_v3 stats{};
  socklen_t len = sizeof(stats);
  if (::getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &stats, &len) != 0) {
    *failed = "getsockopt PACKET_STATISTICS";
    return -errno;
  }
  t->kernel_packets = stats.tp_packets;
  t->kernel_drops = stats.tp_drops;
  t->freeze_count = stats.tp_freeze_q_cnt;
  return 0;
}

}  // namespace mcr::bench
