// Tests for mcr::could_return_to_fifo, the question a saturated real-time
// loop asks before it steps down (relay_loop.cc, step_realtime): with
// CAP_SYS_NICE it may come back whatever its RLIMIT_RTPRIO, but not once
// the process said it will give its privileges up (expect_privilege_drop):
// then only an RLIMIT_RTPRIO of at least the priority counts. Run as root
// (CI, `npm test`), the process holds CAP_SYS_NICE and the first half
// proves the flag is what changes the answer.
#include <linux/capability.h>
#include <sys/resource.h>

#include <cstdint>

#include "core/process_control.h"
#include "tests/test_harness.h"

namespace {

bool holds_cap_sys_nice() {
  uint64_t caps = 0;
  return !mcr::effective_capabilities(&caps).failed() && (caps & (uint64_t{1} << CAP_SYS_NICE)) != 0;
}

TEST(could_return_to_fifo_ignores_cap_sys_nice_once_a_drop_is_expected) {
  rlimit lim{};
  REQUIRE(::getrlimit(RLIMIT_RTPRIO, &lim) == 0);
  if (lim.rlim_cur >= 99) return;  // every priority is granted by the limit: nothing to tell apart
  // A priority the limit does not grant: only CAP_SYS_NICE can answer yes.
  const int above_limit = static_cast<int>(lim.rlim_cur) + 1;
  mcr::expect_privilege_drop(false);
  CHECK_EQ(mcr::could_return_to_fifo(above_limit), holds_cap_sys_nice());
  mcr::expect_privilege_drop(true);
  CHECK_EQ(mcr::could_return_to_fifo(above_limit), false);
  mcr::expect_privilege_drop(false);
  CHECK_EQ(mcr::could_return_to_fifo(above_limit), holds_cap_sys_nice());
}

TEST(could_return_to_fifo_counts_rlimit_rtprio_with_a_drop_expected) {
  rlimit lim{};
  REQUIRE(::getrlimit(RLIMIT_RTPRIO, &lim) == 0);
  // The highest priority the limit grants: 0 where the limit is 0 (this
  // lab's root), which the comparison still has to pass.
  const int granted = lim.rlim_cur > 99 ? 99 : static_cast<int>(lim.rlim_cur);
  mcr::expect_privilege_drop(true);
  CHECK_EQ(mcr::could_return_to_fifo(granted), true);
  mcr::expect_privilege_drop(false);
}

}  // namespace
