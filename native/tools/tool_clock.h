// Clock readings in nanoseconds for the traffic tools: CLOCK_MONOTONIC for
// pacing, deadlines and rates (never steps), CLOCK_REALTIME for the send
// times mcrgen --timestamp writes, which mcrsink compares with the kernel's
// receive timestamps (those are CLOCK_REALTIME).
#pragma once

#include <cstdint>
#include <ctime>

inline uint64_t tool_clock_ns(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

inline uint64_t tool_mono_ns() { return tool_clock_ns(CLOCK_MONOTONIC); }
