// Tests for the run-delay reader the adaptive busy-polling policy uses
// (core/thread_times.h): schedstat's text parses into CPU time and run
// delay, malformed text is refused, and the reader on this thread gives a
// CPU time that grows with work (the run delay it can give is whatever
// the host's scheduler did, so only its presence is checked).
#include <cstring>

#include "core/thread_times.h"
#include "tests/test_harness.h"

namespace {

using mcr::ThreadTimes;

TEST(thread_times_parses_schedstat) {
  const char* text = "1234567 89012 42\n";
  ThreadTimes t;
  CHECK(mcr::parse_schedstat(text, strlen(text), &t));
  CHECK_EQ(t.cpu_ns, 1234567u);
  CHECK_EQ(t.wait_ns, 89012u);
}

TEST(thread_times_refuses_malformed_schedstat) {
  ThreadTimes t{7, 8};
  for (const char* text : {"", "12", "12 ", "x 1 2", "12 y 3", " \n"}) {
    CHECK(!mcr::parse_schedstat(text, strlen(text), &t));
  }
  CHECK_EQ(t.cpu_ns, 7u);  // untouched
  CHECK_EQ(t.wait_ns, 8u);
}

TEST(thread_times_reader_measures_this_thread) {
  mcr::ThreadClock clock;
  clock.open_for_this_thread();
  const ThreadTimes a = clock.read();
  volatile uint64_t x = 0;
  for (uint64_t i = 0; i < 20'000'000; ++i) x = x + i;
  const ThreadTimes b = clock.read();
  CHECK(b.cpu_ns > a.cpu_ns);
  CHECK(b.wait_ns >= a.wait_ns);
}

}  // namespace
