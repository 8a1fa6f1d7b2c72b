// The loop thread's placement and scheduling (loop_thread.h).
#include "core/loop_thread.h"

#include "core/process_control.h"

namespace mcr {

LoopThreadSetup set_up_loop_thread(const LoopOptions& opts) {
  LoopThreadSetup out;
  // The loop thread alone on its core (mcrd --worker-cpus with CPUs left
  // for mcrd): the worker's Node thread and its helpers stay where the
  // process was pinned, off the core the datagrams wait for.
  if (opts.loop_cpu >= 0) {
    const SysError pinned = pin_this_thread(opts.loop_cpu);
    if (pinned.failed()) {
      out.failed = pinned;
      out.failed_step = "sched_setaffinity (the loop thread)";
      return out;
    }
  }
  // Real-time where asked (--loop-rt-priority N, or "auto" under a
  // real-time limit): then no normal task delays the loop once a frame
  // woke it (docs/mcrd.md). "auto" is best effort: a kernel that refuses
  // it anyway (a RestrictRealtime= filter, a cgroup without real-time
  // time) leaves the normal policy, and the result says why; N refuses.
  if (opts.loop_rt_priority > 0) {
    const SysError realtime = make_this_thread_fifo(opts.loop_rt_priority);
    if (!realtime.failed()) {
      out.rt_priority = opts.loop_rt_priority;
      return out;  // no slice under SCHED_FIFO, which preempts anyway
    }
    if (!opts.loop_rt_best_effort) {
      out.failed = realtime;
      out.failed_step = "pthread_setschedparam SCHED_FIFO (the loop thread)";
      return out;
    }
    out.rt_refused = realtime;
  }
  // A short slice (--loop-slice-us, 100 us by default): a woken loop then
  // preempts the task on its core at once instead of at the next tick. The
  // default is best effort: a kernel before 6.12 (or a sandbox) that
  // refuses it leaves the kernel's slice, and the result says why; an
  // explicit value refuses.
  if (opts.loop_slice_us > 0) {
    const SysError slice = set_this_thread_slice(uint64_t{opts.loop_slice_us} * 1000);
    if (!slice.failed()) {
      out.slice_us = opts.loop_slice_us;
    } else if (opts.loop_slice_best_effort) {
      out.slice_refused = slice;
    } else {
      out.failed = slice;
      out.failed_step = "sched_setattr slice (the loop thread)";
    }
  }
  return out;
}

}  // namespace mcr
