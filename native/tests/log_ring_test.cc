// Tests for the log codes of mcr::errno_name and the records the send-error
// limiter pushes: every errno the kernel can return is named as its macro
// (EADDRNOTAVAIL, EIO, ... not a catch-all "EUNKNOWN"), a number glibc does
// not know comes out as "E<number>", and the name is a static string that
// stays valid in a LogEvent after the Node thread drains it. And the ring
// wakes its reader once per batch: the first push after a drain calls the
// waker, outside the ring's lock, later ones do not; a full ring drops the
// event, but the limiter keeps a summary it refused for the next flush.
#include <cerrno>
#include <cstring>
#include <string>

#include "core/log_ring.h"
#include "tests/test_harness.h"

namespace {

using mcr::errno_name;

TEST(errno_name_names_errnos_outside_the_old_short_list) {
  CHECK_EQ(std::string(errno_name(EADDRNOTAVAIL)), "EADDRNOTAVAIL");
  CHECK_EQ(std::string(errno_name(EIO)), "EIO");
  CHECK_EQ(std::string(errno_name(ENOSPC)), "ENOSPC");
  CHECK_EQ(std::string(errno_name(ETIMEDOUT)), "ETIMEDOUT");
}

TEST(errno_name_keeps_the_names_of_the_common_send_errors) {
  CHECK_EQ(std::string(errno_name(ENOBUFS)), "ENOBUFS");
  CHECK_EQ(std::string(errno_name(EMSGSIZE)), "EMSGSIZE");
  CHECK_EQ(std::string(errno_name(ENETUNREACH)), "ENETUNREACH");
  CHECK_EQ(std::string(errno_name(EHOSTUNREACH)), "EHOSTUNREACH");
  CHECK_EQ(std::string(errno_name(EACCES)), "EACCES");
}

TEST(errno_name_gives_unknown_numbers_as_E_number) {
  // 4000 is inside the kernel's errno range (1..4095) but has no name, and
  // 512 is the kernel-internal ERESTARTSYS, which glibc does not name either.
  CHECK_EQ(std::string(errno_name(4000)), "E4000");
  CHECK_EQ(std::string(errno_name(512)), "E512");
  CHECK_EQ(std::string(errno_name(4095)), "E4095");
  // Not an errno at all (a caller passing -errno, or past MAX_ERRNO).
  CHECK_EQ(std::string(errno_name(-EIO)), "EUNKNOWN");
  CHECK_EQ(std::string(errno_name(70000)), "EUNKNOWN");
}

TEST(errno_name_returns_static_strings) {
  // The same pointer every time: LogEvent keeps it, no copy, no allocation.
  CHECK(errno_name(EIO) == errno_name(EIO));
  CHECK(errno_name(4000) == errno_name(4000));
}

TEST(limiter_records_carry_the_errno_name_past_the_drain) {
  mcr::LogRing ring(8);
  mcr::ErrorLogLimiter limiter(&ring);
  CHECK(limiter.report(3, EADDRNOTAVAIL, errno_name(EADDRNOTAVAIL), "send failed on output"));
  CHECK(limiter.report(3, EADDRNOTAVAIL, errno_name(EADDRNOTAVAIL), "send failed on output"));
  CHECK(limiter.report(4, 4000, errno_name(4000), "send failed on output"));
  auto first = ring.drain();
  REQUIRE(first.size() == 2u);
  CHECK_EQ(std::string(first[0].code), "EADDRNOTAVAIL");
  CHECK_EQ(first[0].err, EADDRNOTAVAIL);
  CHECK_EQ(first[0].slot, 3);
  CHECK_EQ(std::string(first[1].code), "E4000");
  // The repeat is summarised by flush(), with its count and the same name.
  CHECK_EQ(limiter.flush(), 1u);
  auto summary = ring.drain();
  REQUIRE(summary.size() == 1u);
  CHECK_EQ(std::string(summary[0].code), "EADDRNOTAVAIL");
  CHECK_EQ(summary[0].count, 1u);
}

TEST(limiter_forgets_a_kind_quiet_for_an_interval_and_tells_its_next_error_as_a_first) {
  mcr::LogRing ring(64);
  mcr::ErrorLogLimiter limiter(&ring);
  // Rule churn: 20 slots fail once each, then stay quiet.
  for (int slot = 0; slot < 20; ++slot) CHECK(limiter.report(slot, ENODEV, errno_name(ENODEV), "send failed on output"));
  CHECK_EQ(limiter.remembered(), 20u);
  CHECK_EQ(limiter.flush(), 0u);  // nothing suppressed: no summary, and all forgotten
  CHECK_EQ(limiter.remembered(), 0u);
  ring.drain();
  // A slot failing on: first line, then a summary per interval; kept while it fails.
  CHECK(limiter.report(7, ENOBUFS, errno_name(ENOBUFS), "send failed on output"));
  CHECK(limiter.report(7, ENOBUFS, errno_name(ENOBUFS), "send failed on output"));
  CHECK_EQ(limiter.flush(), 1u);
  CHECK_EQ(limiter.remembered(), 1u);
  CHECK(limiter.report(7, ENOBUFS, errno_name(ENOBUFS), "send failed on output"));
  CHECK_EQ(limiter.flush(), 1u);
  // Quiet for an interval: forgotten; its next error is a first line again.
  CHECK_EQ(limiter.flush(), 0u);
  CHECK_EQ(limiter.remembered(), 0u);
  ring.drain();
  CHECK(limiter.report(7, ENOBUFS, errno_name(ENOBUFS), "send failed on output"));
  auto again = ring.drain();
  REQUIRE(again.size() == 1u);
  CHECK_EQ(again[0].count, 1u);
}

TEST(limiter_keeps_a_refused_batch_apart_from_a_failed_send_of_the_same_errno) {
  mcr::LogRing ring(8);
  mcr::ErrorLogLimiter limiter(&ring);
  using Kind = mcr::ErrorLogLimiter::Kind;
  CHECK(limiter.report(2, EMSGSIZE, errno_name(EMSGSIZE), "UDP_SEGMENT refused on output; sending datagram by datagram", Kind::gso_refused));
  CHECK(limiter.report(2, EMSGSIZE, errno_name(EMSGSIZE), "send failed on output"));
  auto lines = ring.drain();
  REQUIRE(lines.size() == 2u);  // each its own first line: a lost datagram is not told as a refused batch
  CHECK_EQ(std::string(lines[1].message), "send failed on output");
}

TEST(limiter_keeps_a_summary_the_full_ring_refused_for_the_next_flush) {
  mcr::LogRing ring(1);
  mcr::ErrorLogLimiter limiter(&ring);
  CHECK(limiter.report(5, ENOBUFS, errno_name(ENOBUFS), "send failed on output"));  // fills the ring
  CHECK(limiter.report(5, ENOBUFS, errno_name(ENOBUFS), "send failed on output"));
  CHECK(limiter.report(5, ENOBUFS, errno_name(ENOBUFS), "send failed on output"));
  CHECK_EQ(limiter.flush(), 0u);  // no room: the summary waits, its count kept
  CHECK_EQ(limiter.remembered(), 1u);
  ring.drain();
  CHECK(limiter.report(5, ENOBUFS, errno_name(ENOBUFS), "send failed on output"));
  CHECK_EQ(limiter.flush(), 1u);
  auto summary = ring.drain();
  REQUIRE(summary.size() == 1u);
  CHECK_EQ(summary[0].count, 3u);  // the two the full ring refused and the one since
  // The loop's last flush has no next one: it pushes past a full ring.
  CHECK(limiter.report(5, ENOBUFS, errno_name(ENOBUFS), "send failed on output"));
  CHECK(limiter.report(6, EIO, errno_name(EIO), "send failed on output"));  // fills the ring
  CHECK_EQ(limiter.flush(true), 1u);
  auto last = ring.drain();
  REQUIRE(last.size() == 2u);
  CHECK_EQ(last[1].count, 1u);
}

TEST(log_ring_takes_the_loops_last_word_when_full) {
  mcr::LogRing ring(2);
  const mcr::LogEvent event{mcr::LogLevel::warn, "EIO", "send failed on output", EIO, 1, 1};
  CHECK(ring.push(event));
  CHECK(ring.push(event));
  CHECK(!ring.push(event));  // full
  ring.push_last(mcr::LogEvent{mcr::LogLevel::error, "MCR_LOOP_ENDED", "the relay loop ended", EBADF, -1, 1});
  auto lines = ring.drain();
  REQUIRE(lines.size() == 3u);
  CHECK_EQ(std::string(lines[2].code), "MCR_LOOP_ENDED");
}

TEST(log_ring_wakes_once_for_the_first_event_after_each_drain) {
  mcr::LogRing ring(3);
  int wakes = 0;
  ring.set_waker([&wakes] { ++wakes; });
  const mcr::LogEvent event{mcr::LogLevel::warn, "EIO", "send failed on output", EIO, 1, 1};
  CHECK_EQ(wakes, 0);
  CHECK(ring.push(event));
  CHECK_EQ(wakes, 1);
  CHECK(ring.push(event));
  CHECK(ring.push(event));
  CHECK_EQ(wakes, 1);  // the reader was told once; it drains all three
  CHECK(!ring.push(event));  // full: dropped
  CHECK_EQ(wakes, 1);
  CHECK_EQ(ring.drain().size(), 3u);
  CHECK_EQ(ring.drain().size(), 0u);  // an empty drain wakes nobody
  CHECK_EQ(wakes, 1);
  CHECK(ring.push(event));
  CHECK_EQ(wakes, 2);  // the next event after the drain wakes it again
}

TEST(log_ring_calls_its_waker_outside_its_lock) {
  // A waker that drains at once (as a reader on the same thread would)
  // deadlocks if push() calls it while it holds the ring's mutex.
  mcr::LogRing ring(4);
  size_t drained = 0;
  ring.set_waker([&ring, &drained] { drained += ring.drain().size(); });
  const mcr::LogEvent event{mcr::LogLevel::warn, "EIO", "send failed on output", EIO, 1, 1};
  CHECK(ring.push(event));
  CHECK_EQ(drained, 1u);
  CHECK(ring.push(event));  // drained, so this one wakes again
  CHECK_EQ(drained, 2u);
}

TEST(log_ring_without_a_waker_still_queues) {
  mcr::LogRing ring(2);
  const mcr::LogEvent event{mcr::LogLevel::info, "MCR_TEST", "no reader told", 0, -1, 1};
  CHECK(ring.push(event));
  CHECK_EQ(ring.drain().size(), 1u);
}

}  // namespace
