// Ingress method A, as the relay does it today (native/core/multishot_ingress.cc):
// one multishot IORING_OP_RECV with MSG_TRUNC and IOSQE_BUFFER_SELECT on the
// AF_PACKET socket, picking a buffer per frame from a provided-buffer ring
// (native/core/provided_buffer_ring.cc). Every frame is one CQE; buffers go
// back to the ring in batches and are published once per wake-up or every
// 32 returns, like the relay's kReturnPublishBatch.
#include <algorithm>

#include "bench/ingress_bench.h"
#include "core/buffer_pool.h"
#include "core/packet_socket.h"
#include "core/provided_buffer_ring.h"

namespace mcr::bench {
namespace {

constexpr uint16_t kBufferGroup = 7;
constexpr uint64_t kRecvTag = 1;
constexpr uint32_t kPublishBatch = 32;

}  // namespace

int run_multishot(const BenchOptions& opts, int fd, Tally* t, const char** failed, ReadyFn ready, void* arg) {
  // Declaration order is teardown order in reverse: the buffer ring is
  // unregistered before the pool is unmapped and before the ring exits.
  BenchRing ring;
  int rc = ring.init(1024);
  if (rc != 0) {
    *failed = "io_uring_queue_init_params";
    return rc;
  }
  ring.set_wait(opts.wait_nr, opts.wait_us);
  BufferPool pool;
  if ((rc = pool.init(opts.buffer_count, opts.buffer_size)) != 0) {
    *failed = "mmap";
    return rc;
  }
  ProvidedBufferRing provided;
  if ((rc = provided.init(ring.get(), &pool, kBufferGroup)) != 0) {
    *failed = "io_uring_register_buf_ring";
    return rc;
  }

  bool armed = false;
  auto arm = [&] {
    io_uring_sqe* sqe = io_uring_get_sqe(ring.get());
    if (sqe == nullptr) return;
    // MSG_TRUNC: packet sockets then report the frame's real length.
    io_uring_prep_recv_multishot(sqe, fd, nullptr, 0, MSG_TRUNC);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = provided.group();
    sqe->user_data = kRecvTag;
    armed = true;
  };
  arm();

  uint32_t unpublished = 0;
  const uint32_t size = pool.size();
  auto on_cqe = [&](const io_uring_cqe* cqe) {
    if (cqe->user_data != kRecvTag) return;
    ++t->cqes;
    if ((cqe->flags & IORING_CQE_F_MORE) == 0) armed = false;
    if (cqe->res < 0) {
      if (cqe->res == -ENOBUFS) ++t->enobufs;
      return;
    }
    if ((cqe->flags & IORING_CQE_F_BUFFER) == 0) return;
    const uint16_t bid = static_cast<uint16_t>(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
    const uint32_t len = static_cast<uint32_t>(cqe->res);
    if (len > size) ++t->truncated;
    t->frame(pool.address(bid), std::min(len, size));
    provided.give_back(bid);
    if (++unpublished == kPublishBatch) {
      provided.publish();
      unpublished = 0;
    }
  };
  auto after_batch = [&](bool stopping) {
    provided.publish();
    unpublished = 0;
    if (!armed && !stopping) {
      arm();
      ++t->rearms;
    }
  };
  rc = ring.run(opts.seconds, t, on_cqe, after_batch, [&] { ready(arg); });
  if (rc != 0) {
    *failed = "io_uring_enter";
    return rc;
  }
  const SysError e = read_packet_stats(fd, &t->kernel_packets, &t->kernel_drops);
  if (e.failed()) {
    *failed = "getsockopt";
    return -e.err;
  }
  return 0;
}

}  // namespace mcr::bench
