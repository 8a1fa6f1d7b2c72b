// The JS class `Loop`: owns one RelayLoop and the native thread it runs on
// (a std::thread of its own, never the libuv pool: the loop blocks in
// io_uring_enter for its whole life). Commands become promises that settle
// when the loop has applied them; a thread-safe function carries those
// settlements, the thread's exit and the news that log events wait (the
// log ring's waker: start(onLogs) then calls onLogs) back to the JS thread.
#pragma once
#include <napi.h>

#include <atomic>
#include <memory>
#include <thread>
#include <unordered_map>

#include "core/command_queue.h"
#include "core/counters.h"
#include "core/heartbeat.h"
#include "core/log_ring.h"
#include "core/loop_thread.h"
#include "core/relay_loop.h"

namespace mcr {

// { name: { min, max } } for every numeric Loop option (loopOptionRanges).
Napi::Object loop_option_ranges(Napi::Env env);

class LoopWrap : public Napi::ObjectWrap<LoopWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit LoopWrap(const Napi::CallbackInfo& info);
  ~LoopWrap() override;

 private:
  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value Counters(const Napi::CallbackInfo& info);
  Napi::Value AddRule(const Napi::CallbackInfo& info);
  Napi::Value RemoveRule(const Napi::CallbackInfo& info);
  Napi::Value ReplaceRules(const Napi::CallbackInfo& info);
  Napi::Value Stop(const Napi::CallbackInfo& info);
  Napi::Value DrainLogs(const Napi::CallbackInfo& info);

  Napi::Promise post(Napi::Env env, Command cmd, Napi::Value result);
  void on_notify(Napi::Env env);  // JS thread, via the thread-safe function
  // Resolves or rejects the pending commands whose results the loop posted.
  void settle_completed(Napi::Env env);
  void ensure_running(Napi::Env env) const;
  // Resolves stop()'s promise, or rejects it with the loop's error.
  void settle_stop(Napi::Env env);

  struct Pending {
    Napi::Promise::Deferred deferred;
    Napi::Reference<Napi::Value> result;
  };

  LoopOptions options_;
  std::shared_ptr<CounterBlock> counters_;
  std::shared_ptr<HeartbeatBlock> heartbeat_;  // null: no heartbeatFd given
  std::shared_ptr<LogRing> logs_;
  std::shared_ptr<CommandQueue> commands_;
  std::unique_ptr<RelayLoop> loop_;
  std::thread thread_;
  Napi::ThreadSafeFunction tsfn_;
  std::atomic<bool> exited_{false};
  // Its run() returned on an error, set before MCR_LOOP_ENDED is logged:
  // whoever has read that line finds commands refused (exited_ comes later).
  std::atomic<bool> ended_on_error_{false};
  // The loop thread ended on a C++ exception (an allocation), not an io_uring failure.
  bool out_of_memory_ = false;
  int exit_code_ = 0;
  // How the loop thread was placed and scheduled (loop_thread.h), for start()'s result.
  LoopThreadSetup thread_setup_;
  bool started_ = false;
  bool stop_posted_ = false;
  bool joined_ = false;  // the loop thread ended and was joined (on_notify)
  uint64_t next_seq_ = 1;
  std::unordered_map<uint64_t, Pending> pending_;
  std::unique_ptr<Napi::Promise::Deferred> stop_deferred_;
};

}  // namespace mcr
