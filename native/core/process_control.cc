// Process control. setresuid/setresgid through glibc apply to every thread of
// the process (glibc broadcasts the change), which matters in a Node process
// that already runs V8 and libuv threads.
#include "core/process_control.h"

#include <dirent.h>
#include <grp.h>
#include <linux/capability.h>
#include <pthread.h>
#include <pwd.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <string>
#include <thread>
#include <vector>

namespace mcr {

SysError pin_to_cpus(const std::vector<int>& cpus) {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::string list;
  for (int cpu : cpus) {
    if (cpu < 0 || cpu >= CPU_SETSIZE) return sys_error(EINVAL, "sched_setaffinity", "cpu " + std::to_string(cpu));
    CPU_SET(cpu, &set);
    list += (list.empty() ? "" : ",") + std::to_string(cpu);
  }
  if (cpus.empty()) return sys_error(EINVAL, "sched_setaffinity", "no cpu given");
  if (::sched_setaffinity(0, sizeof(set), &set) != 0) return sys_error(errno, "sched_setaffinity", "cpus " + list);
  // sched_setaffinity(0) only moves the calling thread (threads created later
  // inherit it): apply it to every thread already running in this process too.
  std::vector<pid_t> tids;
  if (DIR* dir = ::opendir("/proc/self/task")) {
    while (dirent* e = ::readdir(dir)) {
      if (e->d_name[0] == '.') continue;
      tids.push_back(static_cast<pid_t>(std::stol(e->d_name)));
    }
    ::closedir(dir);
  }
  for (pid_t tid : tids) ::sched_setaffinity(tid, sizeof(set), &set);
  return {};
}

SysError pin_this_thread(int cpu) {
  if (cpu < 0 || cpu >= CPU_SETSIZE) return sys_error(EINVAL, "sched_setaffinity", "cpu " + std::to_string(cpu));
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  // pid 0 is the calling thread (a thread id, not the process).
  if (::sched_setaffinity(0, sizeof(set), &set) != 0) return sys_error(errno, "sched_setaffinity", "cpu " + std::to_string(cpu));
  return {};
}

SysError make_this_thread_fifo(int priority) {
  sched_param param{};
  param.sched_priority = priority;
  // pthread_setschedparam returns the error instead of setting errno.
  const int rc = ::pthread_setschedparam(::pthread_self(), SCHED_FIFO, &param);
  if (rc != 0) return sys_error(rc, "pthread_setschedparam", "SCHED_FIFO priority " + std::to_string(priority));
  return {};
}

bool this_thread_is_fifo() {
  int policy = SCHED_OTHER;
  sched_param param{};
  return ::pthread_getschedparam(::pthread_self(), &policy, &param) == 0 && policy == SCHED_FIFO;
}

SysError make_this_thread_normal(uint64_t slice_ns) {
  sched_param param{};
  param.sched_priority = 0;
  const int rc = ::pthread_setschedparam(::pthread_self(), SCHED_OTHER, &param);
  if (rc != 0) return sys_error(rc, "pthread_setschedparam", "SCHED_OTHER");
  if (slice_ns > 0) (void)set_this_thread_slice(slice_ns);  // best effort, as the default's slice
  return {};
}

namespace {
// Set by the worker's Node thread before its loop thread starts, read by
// the loop thread: atomic, although the order of the two is already fixed.
std::atomic<bool> privilege_drop_expected{false};
}  // namespace

void expect_privilege_drop(bool expected) { privilege_drop_expected.store(expected, std::memory_order_relaxed); }

bool could_return_to_fifo(int priority) {
  uint64_t caps = 0;
  if (!privilege_drop_expected.load(std::memory_order_relaxed) && !effective_capabilities(&caps).failed() &&
      (caps & (uint64_t{1} << CAP_SYS_NICE)) != 0) {
    return true;
  }
  rlimit lim{};
  return ::getrlimit(RLIMIT_RTPRIO, &lim) == 0 && lim.rlim_cur >= static_cast<rlim_t>(priority);
}

SysError allow_realtime_priority(int priority) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_RTPRIO, &lim) != 0) return sys_error(errno, "getrlimit", "RLIMIT_RTPRIO");
  const rlim_t want = static_cast<rlim_t>(priority);
  if (lim.rlim_cur >= want && lim.rlim_max >= want) return {};
  lim.rlim_cur = lim.rlim_cur > want ? lim.rlim_cur : want;
  lim.rlim_max = lim.rlim_max > want ? lim.rlim_max : want;
  if (::setrlimit(RLIMIT_RTPRIO, &lim) != 0) return sys_error(errno, "setrlimit", "RLIMIT_RTPRIO " + std::to_string(priority));
  return {};
}

namespace {
// The first version of the kernel's struct sched_attr (SCHED_ATTR_SIZE_VER0,
// 48 bytes): glibc 2.36 has no sched_setattr wrapper nor the struct.
struct SchedAttrV0 {
  uint32_t size;
  uint32_t sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime;
  uint64_t sched_deadline;
  uint64_t sched_period;
};
static_assert(sizeof(SchedAttrV0) == 48, "SCHED_ATTR_SIZE_VER0");
}  // namespace

SysError set_this_thread_slice(uint64_t slice_ns) {
  // The kernel's bounds for a custom slice; outside them it would clamp,
  // and the read-back below would blame the kernel's version.
  if (slice_ns < 100'000 || slice_ns > 100'000'000) {
    return sys_error(EINVAL, "sched_setattr", "a slice of " + std::to_string(slice_ns) + " ns: 100 us to 100 ms");
  }
  SchedAttrV0 attr{};
  attr.size = sizeof(attr);
  attr.sched_policy = SCHED_OTHER;
  // The thread's nice value stays as it is (sched_setattr sets it too).
  errno = 0;
  const int nice = ::getpriority(PRIO_PROCESS, 0);
  if (nice == -1 && errno != 0) return sys_error(errno, "getpriority", "the loop thread");
  attr.sched_nice = nice;
  attr.sched_runtime = slice_ns;
  // Thread id 0: the calling thread.
  if (::syscall(SYS_sched_setattr, 0, &attr, 0) != 0) {
    return sys_error(errno, "sched_setattr", "SCHED_OTHER slice " + std::to_string(slice_ns) + " ns");
  }
  SchedAttrV0 back{};
  if (::syscall(SYS_sched_getattr, 0, &back, sizeof(back), 0) != 0) return sys_error(errno, "sched_getattr", "the loop thread");
  if (back.sched_runtime != slice_ns) {
    return sys_error(EOPNOTSUPP, "sched_setattr", "the kernel kept its own slice (" + std::to_string(back.sched_runtime) +
                                                      " ns): a custom slice needs Linux 6.12 or later");
  }
  return {};
}

SysError probe_thread_slice(uint64_t slice_ns) {
  SysError result;
  // A thread that ends here: the attribute dies with it.
  std::thread probe([&result, slice_ns]() { result = set_this_thread_slice(slice_ns); });
  probe.join();
  return result;
}

SysError probe_thread_fifo(int priority) {
  SysError result;
  // The policy dies with the thread.
  std::thread probe([&result, priority]() { result = make_this_thread_fifo(priority); });
  probe.join();
  return result;
}

SysError die_with_parent(int signal, pid_t expected_parent) {
  if (::prctl(PR_SET_PDEATHSIG, signal) != 0) return sys_error(errno, "prctl", "PR_SET_PDEATHSIG");
  if (::getppid() != expected_parent) return sys_error(ESRCH, "getppid", "the supervisor already exited");
  return {};
}

SysError lookup_user(const std::string& name, UserIds* ids) {
  long size = ::sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buffer(size > 0 ? static_cast<size_t>(size) : 16384);
  passwd pw{};
  passwd* found = nullptr;
  const int rc = ::getpwnam_r(name.c_str(), &pw, buffer.data(), buffer.size(), &found);
  if (rc != 0) return sys_error(rc, "getpwnam_r", name);
  if (found == nullptr) return sys_error(ENOENT, "getpwnam_r", "no user " + name);
  ids->uid = pw.pw_uid;
  ids->gid = pw.pw_gid;
  return {};
}

SysError effective_capabilities(uint64_t* mask) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (::syscall(SYS_capget, &header, data) != 0) return sys_error(errno, "capget", "");
  *mask = (uint64_t{data[1].effective} << 32) | data[0].effective;
  return {};
}

SysError drop_privileges(const UserIds& ids) {
  if (::setgroups(0, nullptr) != 0) return sys_error(errno, "setgroups", "clear supplementary groups");
  if (::setresgid(ids.gid, ids.gid, ids.gid) != 0) return sys_error(errno, "setresgid", std::to_string(ids.gid));
  if (::setresuid(ids.uid, ids.uid, ids.uid) != 0) return sys_error(errno, "setresuid", std::to_string(ids.uid));
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return sys_error(errno, "prctl", "PR_SET_NO_NEW_PRIVS");
  // Leaving uid 0 for a non-zero uid clears the permitted and effective
  // sets (capabilities(7)); check rather than trust it.
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (::syscall(SYS_capget, &header, data) != 0) return sys_error(errno, "capget", "");
  const bool left = data[0].effective || data[1].effective || data[0].permitted || data[1].permitted;
  if (left && ids.uid != 0) return sys_error(EPERM, "capget", "capabilities remain after the switch");
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
    return sys_error(errno, "prctl", "PR_CAP_AMBIENT_CLEAR_ALL");
  return {};
}

SysError raise_open_files(uint64_t wanted, uint64_t* now) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return sys_error(errno, "getrlimit", "RLIMIT_NOFILE");
  if (lim.rlim_cur >= wanted) {
    *now = lim.rlim_cur;
    return {};
  }
  rlimit raised{wanted, lim.rlim_max > wanted ? lim.rlim_max : wanted};
  if (::setrlimit(RLIMIT_NOFILE, &raised) != 0) {
    // No CAP_SYS_RESOURCE, or past fs.nr_open: the soft limit as far as the hard one goes.
    raised = {lim.rlim_max, lim.rlim_max};
    if (::setrlimit(RLIMIT_NOFILE, &raised) != 0) return sys_error(errno, "setrlimit", "RLIMIT_NOFILE");
  }
  *now = raised.rlim_cur;
  return {};
}

std::string memlock_advice() {
  uint64_t caps = 0;
  if (!effective_capabilities(&caps).failed() && (caps & (uint64_t{1} << CAP_IPC_LOCK)) != 0) return "";
  rlimit lim{};
  if (::getrlimit(RLIMIT_MEMLOCK, &lim) != 0) return "";
  const std::string now = lim.rlim_cur == RLIM_INFINITY ? "unlimited" : std::to_string(lim.rlim_cur / 1024) + " KiB";
  return "; the io_uring's memory counts against the locked-memory limit of this user (RLIMIT_MEMLOCK, now " + now +
         ", shared by all its processes; each worker needs about 400 KiB): raise it (LimitMEMLOCK= in the systemd "
         "unit, ulimit -l, /etc/security/limits.conf) or give mcrd CAP_IPC_LOCK";
}

}  // namespace mcr
