// Process-level calls a worker makes once, at start, that Node has no API
// for: pin to cores, die with the supervisor, look up and switch to an
// unprivileged user, and report the capabilities left afterwards.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/sys_error.h"

namespace mcr {

// sched_setaffinity to these CPUs for the whole process (every thread):
// a worker to its one core, mcrd to the cores its workers leave free.
SysError pin_to_cpus(const std::vector<int>& cpus);

// sched_setaffinity of the calling thread only, to one CPU: the relay loop's
// thread to its worker's core while the process's other threads stay off it.
SysError pin_this_thread(int cpu);

// Puts the calling thread under SCHED_FIFO at `priority` (1..99), so no
// normal task (a kernel thread such as kdamond or ksoftirqd, another
// program) keeps it from its core once it is runnable. Needs CAP_SYS_NICE
// or an RLIMIT_RTPRIO of at least `priority` (EPERM otherwise).
SysError make_this_thread_fifo(int priority);

// Whether the calling thread runs under SCHED_FIFO now.
bool this_thread_is_fifo();

// Puts the calling thread back under the normal policy (SCHED_OTHER, its
// nice value kept), with a custom slice of `slice_ns` when that is not 0
// (best effort: a kernel that refuses it leaves the thread its own slice).
// Always allowed: lowering one's own policy needs no privilege.
SysError make_this_thread_normal(uint64_t slice_ns);

// Whether the calling thread, once under the normal policy, could go back
// under SCHED_FIFO at `priority`: CAP_SYS_NICE in its effective set (unless
// the process is about to give it up: expect_privilege_drop), or an
// RLIMIT_RTPRIO of at least `priority`.
bool could_return_to_fifo(int priority);

// Tells could_return_to_fifo that this process will switch to an
// unprivileged user (drop_privileges) soon, so CAP_SYS_NICE held now does
// not count: a loop that asks in the moments between its start and the
// switch judges by what it will have after it, RLIMIT_RTPRIO alone.
// Process-wide, as the privileges are; `false` undoes it (tests).
void expect_privilege_drop(bool expected);

// Raises RLIMIT_RTPRIO (soft and hard) to at least `priority`: a process
// that gives up its privileges later can still put a thread back under
// SCHED_FIFO up to it. Needs CAP_SYS_RESOURCE to raise the hard limit.
SysError allow_realtime_priority(int priority);

// Gives the calling thread (SCHED_OTHER) a custom scheduler slice of
// `slice_ns` (sched_setattr's sched_runtime; Linux 6.12 or later, 100 µs to
// 100 ms, no privilege needed). Under EEVDF a woken task whose slice is
// shorter than the running task's preempts it at once, where with the
// default slice it may wait until the next scheduler tick
// (docs/performance.md, "One default cannot be both C relays"). Reads the
// attribute back: a kernel that ignores a custom slice gives EOPNOTSUPP.
SysError set_this_thread_slice(uint64_t slice_ns);

// Tries set_this_thread_slice on a short-lived thread of its own, so the
// caller's threads keep their attributes: whether this kernel, in this
// process's sandbox, gives a loop thread that slice (mcrd --check-host).
SysError probe_thread_slice(uint64_t slice_ns);

// The same for SCHED_FIFO at `priority` (make_this_thread_fifo): whether a
// loop thread of this process would get it, past RLIMIT_RTPRIO, a unit's
// RestrictRealtime= filter and its cgroup's real-time time (mcrd --check-host).
SysError probe_thread_fifo(int priority);

// PR_SET_PDEATHSIG: the kernel sends `signal` when the parent exits. If the
// parent already died before the call (getppid() no longer expected_parent),
// returns ESRCH so the caller exits at once instead of living on as an orphan.
SysError die_with_parent(int signal, pid_t expected_parent);

struct UserIds {
  uid_t uid = 0;
  gid_t gid = 0;
};
SysError lookup_user(const std::string& name, UserIds* ids);

// Clears supplementary groups, then setresgid/setresuid to `ids` (all three
// ids), sets PR_SET_NO_NEW_PRIVS, and checks no capability is left in the
// effective, permitted or ambient sets (EPERM if one is).
SysError drop_privileges(const UserIds& ids);

// Effective capability mask of this process (capget), for checks and logs.
SysError effective_capabilities(uint64_t* mask);

// Raises RLIMIT_NOFILE to at least `wanted` where it can: the soft limit up
// to the hard one, and with CAP_SYS_RESOURCE the hard one too (up to
// fs.nr_open: the kernel refuses more with EPERM, and then the soft limit
// is raised as far as the hard one allows). `now` gets the soft limit in
// force afterwards; it may still be below `wanted`, which the caller reports.
SysError raise_open_files(uint64_t wanted, uint64_t* now);

// What to tell the user when io_uring_queue_init fails with ENOMEM: without
// CAP_IPC_LOCK the kernel charges a ring's memory to the user's locked
// memory, bounded by RLIMIT_MEMLOCK (shared by every process of that user),
// so the usual cause is that limit. Names its value and what to raise; empty
// when the process has CAP_IPC_LOCK (the limit does not apply).
std::string memlock_advice();

}  // namespace mcr
