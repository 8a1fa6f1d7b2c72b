// deny_syscall: runs a command under a seccomp filter that fails every call
// of one system call with EPERM, as a sandbox that filters it does. Tests
// use it where no kernel setting can make this machine's kernel refuse the
// call otherwise:
//   sched_setattr       the loop thread's default scheduler slice
//                       (--loop-slice-us auto) falls back to the kernel's;
//   sched_setscheduler  the call SCHED_FIFO is set with, refused as a unit's
//                       RestrictRealtime=yes refuses real-time policies: the
//                       default SCHED_FIFO (--loop-rt-priority auto under a
//                       real-time limit) falls back to the normal policy;
//   io_uring_enter      a relay loop whose ring stops working ends, and
//                       says so, instead of leaving a relay that forwards
//                       nothing.
//
// Usage: deny_syscall CALL COMMAND [ARG...], CALL one of the three above.
// The filter is inherited by every thread and child of COMMAND. Exit:
// COMMAND's (it replaces this process); 2 with one stderr line when CALL is
// unknown, the filter cannot be installed or COMMAND cannot be run.
#define _GNU_SOURCE  // strerrorname_np
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define THIS_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define THIS_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "deny_syscall: add this architecture's AUDIT_ARCH_* value"
#endif

struct call {
  const char* name;
  unsigned nr;
};

static const struct call kCalls[] = {
    {"sched_setattr", SYS_sched_setattr},
    {"sched_setscheduler", SYS_sched_setscheduler},
    {"io_uring_enter", SYS_io_uring_enter},
};

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: deny_syscall sched_setattr|sched_setscheduler|io_uring_enter COMMAND [ARG...]\n");
    return 2;
  }
  const struct call* denied = NULL;
  for (size_t i = 0; i < sizeof(kCalls) / sizeof(kCalls[0]); i++)
    if (strcmp(argv[1], kCalls[i].name) == 0) denied = &kCalls[i];
  if (denied == NULL) {
    fprintf(stderr, "deny_syscall: EINVAL: unknown call %s: give sched_setattr, sched_setscheduler or io_uring_enter\n", argv[1]);
    return 2;
  }
  struct sock_filter code[] = {
      // Another architecture's call numbers mean other calls: let them be.
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, THIS_AUDIT_ARCH, 0, 3),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, denied->nr, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {.len = sizeof(code) / sizeof(code[0]), .filter = code};
  // Required without CAP_SYS_ADMIN; set-user-ID programs lose their bit
  // under it, which no caller of this tool relies on.
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
    fprintf(stderr, "deny_syscall: installing the seccomp filter: %s (%s)\n", strerrorname_np(errno), strerror(errno));
    return 2;
  }
  execvp(argv[2], argv + 2);
  fprintf(stderr, "deny_syscall: %s: %s (%s)\n", argv[2], strerrorname_np(errno), strerror(errno));
  return 2;
}
