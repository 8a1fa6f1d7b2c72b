// The traffic tools' stop flag and its signal handling (tool_signals.h).
#include "tools/tool_signals.h"

volatile sig_atomic_t g_tool_stop = 0;

namespace {
void on_stop_signal(int) { g_tool_stop = 1; }
}  // namespace

void tool_catch_stop_signals() {
  struct sigaction sa{};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

sigset_t tool_block_stop_signals() {
  sigset_t stop_set, wait_mask;
  sigemptyset(&stop_set);
  sigaddset(&stop_set, SIGINT);
  sigaddset(&stop_set, SIGTERM);
  sigprocmask(SIG_BLOCK, &stop_set, &wait_mask);
  sigdelset(&wait_mask, SIGINT);
  sigdelset(&wait_mask, SIGTERM);
  return wait_mask;
}
