// ThreadClock: see thread_times.h.
#include "core/thread_times.h"

#include <fcntl.h>
#include <unistd.h>

#include <ctime>

namespace mcr {
namespace {

bool parse_u64(const char** p, const char* end, uint64_t* out) {
  while (*p < end && **p == ' ') ++*p;
  if (*p == end || **p < '0' || **p > '9') return false;
  uint64_t v = 0;
  while (*p < end && **p >= '0' && **p <= '9') v = v * 10 + static_cast<uint64_t>(*(*p)++ - '0');
  *out = v;
  return true;
}

uint64_t thread_cpu_clock_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

bool parse_schedstat(const char* text, size_t len, ThreadTimes* out) {
  const char* p = text;
  const char* end = text + len;
  ThreadTimes t;
  if (!parse_u64(&p, end, &t.cpu_ns) || !parse_u64(&p, end, &t.wait_ns)) return false;
  *out = t;
  return true;
}

ThreadClock::~ThreadClock() {
  if (fd_ >= 0) ::close(fd_);
}

void ThreadClock::open_for_this_thread() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = ::open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
  if (fd_ >= 0) {
    // Keep it only if it reads as expected: otherwise fall back for good.
    char buf[96];
    ThreadTimes t;
    const ssize_t n = ::pread(fd_, buf, sizeof(buf), 0);
    if (n <= 0 || !parse_schedstat(buf, static_cast<size_t>(n), &t)) {
      ::close(fd_);
      fd_ = -1;
    }
  }
}

ThreadTimes ThreadClock::read() {
  // The CPU time from the clock, not the file: schedstat's sum is brought up
  // to date only at scheduler events (a tick, 4 ms at HZ=250, for a thread
  // that never sleeps), too coarse for a 2 ms window; the clock adds the
  // running slice. The run delay is up to date whenever this thread runs:
  // the kernel adds each wait as the thread gets its CPU back.
  ThreadTimes t{thread_cpu_clock_ns(), 0};
  if (fd_ >= 0) {
    char buf[96];
    ThreadTimes s;
    const ssize_t n = ::pread(fd_, buf, sizeof(buf), 0);
    if (n > 0 && parse_schedstat(buf, static_cast<size_t>(n), &s)) t.wait_ns = s.wait_ns;
  }
  return t;
}

}  // namespace mcr
