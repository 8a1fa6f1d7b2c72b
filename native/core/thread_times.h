// ThreadTimes: the relay loop thread's CPU time (CLOCK_THREAD_CPUTIME_ID)
// and its run delay (the time it was runnable but waited for a CPU), read
// once per window of the busy-polling policy (poll_policy.h) and of a
// real-time loop's guard (realtime_guard.h); the run delay from
// /proc/thread-self/schedstat ("<cpu ns> <run delay ns> <timeslices>"),
// one pread on a descriptor opened by the loop thread itself (the file
// names the thread that opened it). The run delay is what
// says that other tasks want the loop's core: polling there only steals
// from them, and a thread that spun is the one the scheduler makes wait
// (poll_policy.h, "contended"). Without the file (a kernel built without
// CONFIG_SCHED_INFO), the CPU time comes from CLOCK_THREAD_CPUTIME_ID and
// the run delay reads 0: the policy then never sees contention.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mcr {

struct ThreadTimes {
  uint64_t cpu_ns = 0;
  uint64_t wait_ns = 0;

  // What ran up since `earlier`, each part 0 where it reads lower (a
  // reading without the schedstat file against one with it).
  ThreadTimes since(const ThreadTimes& earlier) const {
    return {cpu_ns > earlier.cpu_ns ? cpu_ns - earlier.cpu_ns : 0, wait_ns > earlier.wait_ns ? wait_ns - earlier.wait_ns : 0};
  }
};

// Parses schedstat's text; false when it does not start with two numbers.
bool parse_schedstat(const char* text, size_t len, ThreadTimes* out);

class ThreadClock {
 public:
  ThreadClock() = default;
  ThreadClock(const ThreadClock&) = delete;
  ThreadClock& operator=(const ThreadClock&) = delete;
  ~ThreadClock();

  // Opens the calling thread's schedstat; call from the thread to be measured.
  void open_for_this_thread();
  // Whether the run delay is measured (the file opened and parsed).
  bool has_wait() const { return fd_ >= 0; }
  ThreadTimes read();

 private:
  int fd_ = -1;
};

}  // namespace mcr
