// Tests for the relay loop's own submit-and-wait (core/ring_wait.h), on a
// real io_uring with NOP requests: it submits every SQE queued through
// liburing and waits for the completions asked for, with the ring's fd
// registered or not, with the iowait opt-out where this kernel has it and
// without it (as on a kernel before 6.15); liburing's own submit stays in
// step with it after; and the opt-out follows the kernel's feature bit.
#include <liburing.h>

#include <cerrno>

#include "core/ring_wait.h"
#include "tests/test_harness.h"

namespace {

using mcr::RingWait;

// Queues `n` NOPs; false when the SQ is full.
bool queue_nops(io_uring* ring, int n) {
  for (int i = 0; i < n; ++i) {
    io_uring_sqe* sqe = io_uring_get_sqe(ring);
    if (sqe == nullptr) return false;
    io_uring_prep_nop(sqe);
    sqe->user_data = static_cast<uint64_t>(i + 1);
  }
  return true;
}

// Submits three NOPs through `wait`, then one through liburing, and checks
// every completion arrived. `features_mask` hides feature bits from
// RingWait (~kFeatNoIowait: as a kernel without IORING_FEAT_NO_IOWAIT).
void submits_and_waits(bool register_fd, uint32_t features_mask = ~0u) {
  io_uring ring{};
  io_uring_params params{};
  REQUIRE(io_uring_queue_init_params(8, &ring, &params) == 0);
  const bool registered = register_fd && io_uring_register_ring_fd(&ring) == 1;
  CHECK_EQ(registered, register_fd);  // Linux 5.18 registers ring fds; the loop needs 6.1
  RingWait wait;
  wait.init(params.features & features_mask, registered);
  CHECK_EQ(wait.no_iowait(), (params.features & features_mask & mcr::kFeatNoIowait) != 0);

  REQUIRE(queue_nops(&ring, 3));
  CHECK_EQ(wait.submit_and_wait(&ring, 3), 3);
  CHECK_EQ(io_uring_cq_ready(&ring), 3u);
  io_uring_cq_advance(&ring, 3);

  // Nothing queued: the wait still waits, here for the NOP liburing submits.
  REQUIRE(queue_nops(&ring, 1));
  CHECK_EQ(io_uring_submit(&ring), 1);  // liburing's bookkeeping is in step
  CHECK_EQ(wait.submit_and_wait(&ring, 1), 0);
  CHECK_EQ(io_uring_cq_ready(&ring), 1u);
  io_uring_queue_exit(&ring);
}

TEST(ring_wait_submits_queued_sqes_and_waits) { submits_and_waits(false); }

TEST(ring_wait_with_a_registered_ring_fd) { submits_and_waits(true); }

TEST(ring_wait_without_the_iowait_opt_out) { submits_and_waits(false, ~mcr::kFeatNoIowait); }

// A bounded wait returns -ETIME once its time passed with nothing to reap
// (were the bound ignored, this would block for ever: core_tests' own
// time limit fails it), submits what is queued, and returns at once with
// the completions asked for; with the registered ring fd too.
void waits_at_most(bool register_fd) {
  io_uring ring{};
  io_uring_params params{};
  REQUIRE(io_uring_queue_init_params(8, &ring, &params) == 0);
  REQUIRE((params.features & IORING_FEAT_EXT_ARG) != 0);  // Linux 5.11; the loop needs 6.1
  const bool registered = register_fd && io_uring_register_ring_fd(&ring) == 1;
  RingWait wait;
  wait.init(params.features, registered);
  CHECK_EQ(wait.submit_and_wait_at_most(&ring, 1, 2'000'000), -ETIME);
  CHECK_EQ(io_uring_cq_ready(&ring), 0u);
  REQUIRE(queue_nops(&ring, 2));
  CHECK_EQ(wait.submit_and_wait_at_most(&ring, 2, 1'000'000'000), 2);
  CHECK_EQ(io_uring_cq_ready(&ring), 2u);
  io_uring_queue_exit(&ring);
}

TEST(ring_wait_at_most_returns_after_its_time) { waits_at_most(false); }

TEST(ring_wait_at_most_with_a_registered_ring_fd) { waits_at_most(true); }

TEST(ring_wait_at_most_without_ext_arg_does_not_wait) {
  io_uring ring{};
  io_uring_params params{};
  REQUIRE(io_uring_queue_init_params(8, &ring, &params) == 0);
  RingWait wait;
  wait.init(params.features & ~static_cast<uint32_t>(IORING_FEAT_EXT_ARG), false);
  CHECK_EQ(wait.submit_and_wait_at_most(&ring, 1, 60'000'000'000), 0);  // no wait, not a minute's
  io_uring_queue_exit(&ring);
}

TEST(ring_wait_opts_out_of_iowait_only_where_the_kernel_says_it_can) {
  RingWait with;
  with.init(mcr::kFeatNoIowait, false);
  CHECK(with.no_iowait());
  RingWait without;
  without.init(0, false);
  CHECK(!without.no_iowait());
}

}  // namespace
