// Tests for mcr::Submitter on a real io_uring: an SQE is handed out while
// the SQ has room, and after submitting what is queued when it is full; a
// cancel that can get no SQE at all (the SQ full and the submit refused by
// the kernel, as when it cannot allocate requests) says so, so the loop
// asks again next turn (RelayLoop::rearm_lost_requests) instead of losing
// the request. The refused submit is made by closing the ring's fd: the
// kernel then takes nothing and the SQ stays full.
#include <liburing.h>
#include <unistd.h>

#include "core/counters.h"
#include "core/submitter.h"
#include "tests/test_harness.h"

namespace {

void no_reap(void*) {}

TEST(submitter_cancel_reports_whether_it_got_an_sqe) {
  io_uring ring{};
  REQUIRE(io_uring_queue_init(4, &ring, 0) == 0);
  mcr::CounterBlock counters(1, 1);
  mcr::Submitter submitter(&ring, 64, &counters, &no_reap, nullptr);
  CHECK(submitter.cancel(mcr::Op::timer));  // room in the SQ
  // Fill the SQ; the next SQE comes after a submit that the kernel takes.
  for (int i = 0; i < 3; ++i) io_uring_prep_nop(io_uring_get_sqe(&ring));
  CHECK(io_uring_sq_space_left(&ring) == 0);
  CHECK(submitter.cancel(mcr::Op::recv));
  // Full again, and now the kernel refuses the submit: no SQE to be had.
  while (io_uring_sq_space_left(&ring) > 0) io_uring_prep_nop(io_uring_get_sqe(&ring));
  const int fd = ring.ring_fd;
  ::close(fd);
  CHECK(!submitter.cancel(mcr::Op::recv));
  CHECK(submitter.next_sqe() == nullptr);
  ring.ring_fd = -1;  // closed above; queue_exit only unmaps
  io_uring_queue_exit(&ring);
}

}  // namespace
