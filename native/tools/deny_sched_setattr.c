// deny_sched_setattr: runs a command under a seccomp filter that fails every
// sched_setattr(2) with EPERM, as a sandbox that filters scheduling calls
// does, or with --setscheduler every sched_setscheduler(2) instead (the
// call SCHED_FIFO is set with), as a unit's RestrictRealtime=yes does for
// real-time policies. Tests use it to
// prove that the loop thread's default scheduler slice (--loop-slice-us
// auto) falls back to the kernel's, and the default SCHED_FIFO
// (--loop-rt-priority auto under a real-time limit) to the normal policy,
// each with a warning, where the kernel or a sandbox refuses them; no
// kernel setting can make this machine's kernel refuse them otherwise.
//
// Usage: deny_sched_setattr [--setscheduler] COMMAND [ARG...]. The filter
// is inherited by every thread and child of COMMAND. Exit: COMMAND's (it
// replaces this process); 2 with one stderr line when the filter cannot be
// installed or COMMAND cannot be run.
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
#error "deny_sched_setattr: add this architecture's AUDIT_ARCH_* value"
#endif

int main(int argc, char** argv) {
  const int setscheduler = argc > 1 && strcmp(argv[1], "--setscheduler") == 0;
  const int command = setscheduler ? 2 : 1;
  if (argc <= command) {
    fprintf(stderr, "usage: deny_sched_setattr [--setscheduler] COMMAND [ARG...]\n");
    return 2;
  }
  const unsigned denied = setscheduler ? SYS_sched_setscheduler : SYS_sched_setattr;
  struct sock_filter code[] = {
      // Another architecture's call numbers mean other calls: let them be.
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, THIS_AUDIT_ARCH, 0, 3),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, denied, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {.len = sizeof(code) / sizeof(code[0]), .filter = code};
  // Required without CAP_SYS_ADMIN; set-user-ID programs lose their bit
  // under it, which no caller of this tool relies on.
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
    fprintf(stderr, "deny_sched_setattr: installing the seccomp filter: %s (%s)\n", strerrorname_np(errno), strerror(errno));
    return 2;
  }
  execvp(argv[command], argv + command);
  fprintf(stderr, "deny_sched_setattr: %s: %s (%s)\n", argv[command], strerrorname_np(errno), strerror(errno));
  return 2;
}
