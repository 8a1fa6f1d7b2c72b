// What `mcrd --check-host` asks of the kernel's io_uring before any worker
// needs it: can this process create a ring set up the way the relay loop
// sets its own (relay_loop.cc), and which of the operations the loop
// submits does the kernel know. The answer is data; the verdict and the
// advice are TypeScript's (supervisor/host-check/).
#pragma once
#include <string>
#include <vector>

#include "core/sys_error.h"

namespace mcr {

struct IoUringProbe {
  bool defer_taskrun = false;              // IORING_SETUP_SINGLE_ISSUER | DEFER_TASKRUN accepted (Linux 6.1)
  unsigned features = 0;                   // io_uring_params.features
  bool no_iowait = false;                  // IORING_FEAT_NO_IOWAIT: the loop's sleeps can stay out of iowait (ring_wait.h)
  std::vector<std::string> missing_ops;    // opcodes the loop submits that the kernel does not support
};

// Creates and destroys a ring of the given sizes (the loop's, so what the
// kernel charges to the locked-memory limit is what a worker's ring costs)
// with the loop's flags (CQSIZE, SUBMIT_ALL; DEFER_TASKRUN tried first, as
// the loop does) and probes the opcodes. Fails with the errno of io_uring_setup: EPERM when
// kernel.io_uring_disabled forbids it, ENOMEM when the locked-memory limit
// is too low, ENOSYS without io_uring, EINVAL for a kernel older than the
// loop's flags (SUBMIT_ALL: Linux 5.18).
SysError probe_io_uring(unsigned sq_entries, unsigned cq_entries, IoUringProbe* out);

}  // namespace mcr
