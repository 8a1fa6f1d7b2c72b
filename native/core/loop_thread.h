// How the relay loop's own thread is placed and scheduled before the loop
// sets up its ring, on that thread: pinned to its CPU (--worker-cpus),
// under SCHED_FIFO where asked (--loop-rt-priority), else with a short
// scheduler slice (--loop-slice-us). Both scheduling settings have a best
// effort form, their defaults ("auto"): a kernel or sandbox that refuses
// them leaves the normal policy or the kernel's slice, and the result says
// why; a value given as a number fails instead. No Node here: the addon
// reports the result (loop_wrap.cc).
#pragma once
#include <cstdint>

#include "core/loop_options.h"
#include "core/sys_error.h"

namespace mcr {

struct LoopThreadSetup {
  // The step that failed the start ("" when none) and why.
  const char* failed_step = "";
  SysError failed;
  int rt_priority = 0;          // SCHED_FIFO priority in force; 0 = the normal policy
  SysError rt_refused;          // set when a best-effort priority was refused
  uint32_t slice_us = 0;        // scheduler slice in force; 0 = the kernel's
  SysError slice_refused;       // set when a best-effort slice was refused
};

// On the loop thread, before RelayLoop::setup().
LoopThreadSetup set_up_loop_thread(const LoopOptions& opts);

}  // namespace mcr
