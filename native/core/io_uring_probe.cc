// See io_uring_probe.h. The opcode list is what relay_loop.cc and the two
// ingress methods submit (grep io_uring_prep_ in native/core).
#include "core/io_uring_probe.h"

#include <errno.h>
#include <liburing.h>

#include <utility>

#include "core/ring_wait.h"

namespace mcr {

SysError probe_io_uring(unsigned sq_entries, unsigned cq_entries, IoUringProbe* out) {
  io_uring ring{};
  io_uring_params params{};
  params.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
  params.cq_entries = cq_entries;
  io_uring_params deferred = params;
  deferred.flags |= IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  int rc = io_uring_queue_init_params(sq_entries, &ring, &deferred);
  if (rc == 0) {
    out->defer_taskrun = true;
    params = deferred;
  } else {
    rc = io_uring_queue_init_params(sq_entries, &ring, &params);
  }
  if (rc != 0) return sys_error(-rc, "io_uring_setup", "a ring with the relay loop's flags");
  out->features = params.features;
  out->no_iowait = (params.features & kFeatNoIowait) != 0;
  io_uring_probe* probe = io_uring_get_probe_ring(&ring);
  if (probe == nullptr) {
    io_uring_queue_exit(&ring);
    return sys_error(ENOSYS, "io_uring_register", "IORING_REGISTER_PROBE");
  }
  const std::pair<int, const char*> needed[] = {
      {IORING_OP_POLL_ADD, "POLL_ADD"}, {IORING_OP_RECV, "RECV"},   {IORING_OP_SEND, "SEND"},
      {IORING_OP_SENDMSG, "SENDMSG"},   {IORING_OP_READ, "READ"},   {IORING_OP_TIMEOUT, "TIMEOUT"},
      {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"},
  };
  for (const auto& [op, name] : needed)
    if (!io_uring_opcode_supported(probe, op)) out->missing_ops.emplace_back(name);
  io_uring_free_probe(probe);
  io_uring_queue_exit(&ring);
  return {};
}

}  // namespace mcr
