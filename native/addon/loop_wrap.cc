// Loop class implementation. The JS thread only builds commands and settles
// promises; every packet-path structure is touched by the loop thread alone.
#include "addon/loop_wrap.h"

#include <pthread.h>
#include <sched.h>

#include <cstdlib>
#include <cstring>
#include <future>

#include "addon/napi_errors.h"
#include "addon/rule_convert.h"
#include "core/process_control.h"

namespace mcr {
namespace {

// The range of every numeric Loop option, written once: checked here and
// handed to TypeScript (loopOptionRanges) for mcr-relay's flags and mcrd's
// config keys, so the two cannot disagree.
// The kernel's limit on completion queue entries (IORING_MAX_CQ_ENTRIES);
// RelayLoop sizes its queue at 4 × ringDepth, or maxInflightSends +
// ringDepth where that is more, rounded up to a power of two, and a queue
// past this limit fails io_uring_setup with EINVAL: the ranges below and
// the check of the two together keep it within.
constexpr uint32_t kMaxCqEntries = 65536;

struct OptionRange {
  const char* name;
  uint32_t min;
  uint32_t max;
};
constexpr OptionRange kOptionRanges[] = {
    {"packetFd", 0, 1u << 30},       {"ringDepth", 64, 16384},         {"batch", 1, 4096},
    {"bufferCount", 16, 32768},      {"bufferSize", 128, 65536},       {"maxInflightSends", 1, kMaxCqEntries - 64},
    {"statsIntervalMs", 10, 10000},  {"busyPollUs", 0, 1000000},       {"coalesceUs", 0, 10000},
    {"ruleSlots", 1, 1u << 20},      {"outputSlots", 1, 1u << 20},     {"loopCpu", 0, CPU_SETSIZE - 1},
    {"loopRtPriority", 0, 99},       {"loopSliceUs", 0, 100000},
};

const OptionRange& range_of(const char* name) {
  for (const OptionRange& r : kOptionRanges)
    if (std::strcmp(r.name, name) == 0) return r;
  std::abort();  // a name missing from the table is a bug in this file
}

uint32_t option(const Napi::Object& opts, const char* name, uint32_t fallback) {
  const uint32_t min = range_of(name).min;
  const uint32_t max = range_of(name).max;
  Napi::Value v = opts.Get(name);
  if (v.IsUndefined()) return fallback;
  return uint_arg(opts.Env(), v, name, min, max);
}

}  // namespace

Napi::Object loop_option_ranges(Napi::Env env) {
  Napi::Object out = Napi::Object::New(env);
  for (const OptionRange& r : kOptionRanges) {
    Napi::Object range = Napi::Object::New(env);
    range.Set("min", Napi::Number::New(env, r.min));
    range.Set("max", Napi::Number::New(env, r.max));
    out.Set(r.name, range);
  }
  return out;
}

Napi::Function LoopWrap::Define(Napi::Env env) {
  return DefineClass(env, "Loop",
                     {InstanceMethod<&LoopWrap::Start>("start"), InstanceMethod<&LoopWrap::Counters>("counters"),
                      InstanceMethod<&LoopWrap::AddRule>("addRule"), InstanceMethod<&LoopWrap::RemoveRule>("removeRule"),
                      InstanceMethod<&LoopWrap::ReplaceRules>("replaceRules"), InstanceMethod<&LoopWrap::Stop>("stop"),
                      InstanceMethod<&LoopWrap::DrainLogs>("drainLogs")});
}

LoopWrap::LoopWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<LoopWrap>(info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) throw coded_error(env, "ERR_MCR_INVALID_ARG", "Loop options must be an object");
  Napi::Object opts = info[0].As<Napi::Object>();
  options_.packet_fd = static_cast<int>(option(opts, "packetFd", 0xffffffffu));
  options_.ring_depth = option(opts, "ringDepth", options_.ring_depth);
  options_.batch = option(opts, "batch", options_.batch);
  options_.buffer_count = option(opts, "bufferCount", options_.buffer_count);
  options_.buffer_size = option(opts, "bufferSize", options_.buffer_size);
  options_.max_inflight_sends = option(opts, "maxInflightSends", options_.max_inflight_sends);
  options_.stats_interval_ms = option(opts, "statsIntervalMs", options_.stats_interval_ms);
  // busyPollUs: "auto" or absent = the adaptive policy (the default: never
  // polls, pauses after each walk while busy), 0 = never poll nor pause,
  // N = poll N us after the last frame (poll_policy.h).
  Napi::Value busy = opts.Get("busyPollUs");
  if (busy.IsString() && busy.As<Napi::String>().Utf8Value() == "auto") {
    options_.busy_poll = BusyPoll::adaptive;
  } else if (!busy.IsUndefined()) {
    options_.busy_poll_us = option(opts, "busyPollUs", 0);
    options_.busy_poll = options_.busy_poll_us == 0 ? BusyPoll::off : BusyPoll::fixed;
  }
  options_.coalesce_us = option(opts, "coalesceUs", options_.coalesce_us);
  if (!opts.Get("loopCpu").IsUndefined()) options_.loop_cpu = static_cast<int>(option(opts, "loopCpu", 0));
  options_.loop_rt_priority = static_cast<int>(option(opts, "loopRtPriority", 0));
  Napi::Value rt_best_effort = opts.Get("loopRtBestEffort");
  if (rt_best_effort.IsBoolean()) options_.loop_rt_best_effort = rt_best_effort.As<Napi::Boolean>().Value();
  // loopSliceUs: "auto" or absent = 100 us where the kernel gives it (the
  // default), 0 = the kernel's, N = N us or refuse to start.
  Napi::Value slice = opts.Get("loopSliceUs");
  if (!slice.IsUndefined() && !(slice.IsString() && slice.As<Napi::String>().Utf8Value() == "auto")) {
    options_.loop_slice_us = option(opts, "loopSliceUs", 0);
    options_.loop_slice_best_effort = false;
  }
  Napi::Value ingress = opts.Get("ingress");
  if (!ingress.IsUndefined()) {
    const std::string mode = ingress.IsString() ? ingress.As<Napi::String>().Utf8Value() : "";
    if (mode != "ring" && mode != "multishot")
      throw coded_error(env, "ERR_MCR_INVALID_ARG", "ingress must be \"ring\" or \"multishot\"");
    options_.ingress = mode == "ring" ? Ingress::ring : Ingress::multishot;
  }
  Napi::Value defer = opts.Get("deferTaskrun");
  if (defer.IsBoolean()) options_.defer_taskrun = defer.As<Napi::Boolean>().Value();
  Napi::Value gso = opts.Get("udpGso");
  if (gso.IsBoolean()) options_.udp_gso = gso.As<Napi::Boolean>().Value();
  if ((options_.buffer_count & (options_.buffer_count - 1)) != 0)
    throw coded_error(env, "ERR_MCR_INVALID_ARG", "bufferCount must be a power of two");
  if (options_.max_inflight_sends + options_.ring_depth > kMaxCqEntries)
    throw coded_error(env, "ERR_MCR_INVALID_ARG",
                      "maxInflightSends + ringDepth must be at most " + std::to_string(kMaxCqEntries) +
                          ", the kernel's limit on completion queue entries: lower --max-inflight or --ring-depth");
  // The worker's heartbeat block from mcrd (heartbeat.h): mapped here, so the
  // caller may close its fd once the Loop exists.
  Napi::Value heartbeat_fd = opts.Get("heartbeatFd");
  if (!heartbeat_fd.IsUndefined()) {
    const auto fd = static_cast<int>(uint_arg(env, heartbeat_fd, "heartbeatFd (a file descriptor)", INT32_MAX));
    const SysError e = map_heartbeat(fd, &heartbeat_);
    if (e.failed()) throw system_error(env, e);
  }
  const uint32_t rule_slots = option(opts, "ruleSlots", 1024);
  const uint32_t output_slots = option(opts, "outputSlots", 4096);
  counters_ = std::make_shared<CounterBlock>(rule_slots, output_slots);
  logs_ = std::make_shared<LogRing>();
  commands_ = std::make_shared<CommandQueue>();
  if (commands_->event_fd() < 0) throw system_error(env, errno, "eventfd", "command queue");
}

LoopWrap::~LoopWrap() {
  // Still running only at the environment's teardown (process exit with no
  // stop(); Start's reference kept a collection away before): stop and
  // wait, so the thread never outlives the structures it uses.
  if (thread_.joinable()) {
    if (!stop_posted_) commands_->post(Command{});
    thread_.join();
  }
}

void LoopWrap::ensure_running(Napi::Env env) const {
  if (!started_) throw coded_error(env, "ERR_MCR_NOT_STARTED", "the loop is not started: call start() first");
  if (stop_posted_) throw coded_error(env, "ERR_MCR_STOPPED", "the loop is stopping or stopped");
  // Its thread ended on an error (MCR_LOOP_ENDED in its logs): a command
  // posted now would never be applied nor answered.
  if (ended_on_error_.load(std::memory_order_acquire) || exited_.load(std::memory_order_acquire))
    throw coded_error(env, "ERR_MCR_STOPPED", "the loop ended on an error (see its log): start a new one");
}

Napi::Value LoopWrap::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (started_) throw coded_error(env, "ERR_MCR_ALREADY_STARTED", "the loop is already started");
  if (info.Length() > 0 && !info[0].IsUndefined() && !info[0].IsFunction()) {
    throw coded_error(env, "ERR_MCR_INVALID_ARG", "start(onLogs): onLogs must be a function");
  }
  // The thread-safe function's JS side is onLogs, called on its own (not
  // from on_notify, whose settlements must not depend on it) whenever the
  // log ring wakes us: the caller drains logs when there are some.
  const Napi::Function on_logs = info.Length() > 0 && info[0].IsFunction() ? info[0].As<Napi::Function>()
                                                                             : Napi::Function::New(env, [](const Napi::CallbackInfo&) {});
  tsfn_ = Napi::ThreadSafeFunction::New(env, on_logs, "mcr-loop", 0, 1);
  auto notify = [this]() {
    tsfn_.NonBlockingCall([this](Napi::Env cb_env, Napi::Function) { on_notify(cb_env); });
  };
  // Set before the loop thread exists, so its first push sees it; the
  // thread is joined before tsfn_ is released, so no push comes after.
  // A throw from onLogs becomes the process's uncaught exception, as from
  // any callback, not a C++ exception out of the thread-safe call.
  logs_->set_waker([this]() {
    tsfn_.NonBlockingCall([](Napi::Env, Napi::Function fn) {
      try {
        fn.Call({});
      } catch (const Napi::Error& e) {
        e.ThrowAsJavaScriptException();
      }
    });
  });
  loop_ = std::make_unique<RelayLoop>(options_, counters_, logs_, commands_, notify);
  if (heartbeat_) loop_->set_heartbeat(heartbeat_);
  std::promise<std::pair<int, const char*>> ready;
  std::future<std::pair<int, const char*>> ready_future = ready.get_future();
  auto body = [this, notify, &ready]() {
    // Named so mcrd's watchdog can find this thread in /proc/PID/task and
    // tell a starved loop (runnable) from a stopped or stuck one.
    pthread_setname_np(pthread_self(), "mcr-loop");
    bool announced = false;
    try {
      const char* step = "";
      // Pinned, real-time or a short slice, each as asked (loop_thread.h).
      thread_setup_ = set_up_loop_thread(options_);
      const int rc = thread_setup_.failed.failed() ? -thread_setup_.failed.err : loop_->setup(&step);
      if (thread_setup_.failed.failed()) step = thread_setup_.failed_step;
      ready.set_value({rc, step});
      announced = true;
      if (rc != 0) return;
      exit_code_ = loop_->run();
    } catch (const std::exception&) {
      // An allocation that failed (std::bad_alloc, say, applying a large
      // rule set): an exception leaving the thread would abort the process.
      // Before start() has its answer, it gets this one; after, the loop
      // ends, said as what it is.
      if (!announced) {
        ready.set_value({-ENOMEM, "relay loop setup"});
        return;
      }
      exit_code_ = -ENOMEM;
      out_of_memory_ = true;
    }
    if (exit_code_ != 0) {
      ended_on_error_.store(true, std::memory_order_release);
      // Nobody may be waiting on stop(): say it where the relay's logs go
      // (the log ring wakes the Node thread), so a relay that forwards
      // nothing more is not silent about it; past a full ring too (a burst
      // of send errors must not crowd out the line the worker exits on).
      logs_->push_last(LogEvent{LogLevel::error, "MCR_LOOP_ENDED",
                           out_of_memory_ ? "the relay loop ended: its thread ran out of memory (a C++ allocation "
                                            "failed); nothing is forwarded any more: give the worker more memory or "
                                            "fewer rules, and restart the relay (mcrd restarts its worker)"
                                          : "the relay loop ended: io_uring_enter failed (errno in this line); nothing "
                                            "is forwarded any more: restart the relay (mcrd restarts its worker)",
                           -exit_code_, -1, 1});
    }
    exited_.store(true, std::memory_order_release);
    notify();
  };
  // pthread_create refused (std::system_error, EAGAIN: the tasks limit of
  // the unit or cgroup, RLIMIT_NPROC, or memory), or the thread's own state
  // could not be allocated (std::bad_alloc).
  int refused = 0;
  try {
    thread_ = std::thread(body);
  } catch (const std::system_error& e) {
    refused = e.code().value();
  } catch (const std::exception&) {
    refused = ENOMEM;
  }
  if (refused != 0) {
    tsfn_.Release();
    loop_.reset();
    throw system_error(env, refused, "pthread_create",
                       "relay loop thread: the host refused a new thread (raise the service's TasksMax= or "
                       "the user's process limit, or free memory)");
  }
  const auto [rc, step] = ready_future.get();
  if (rc != 0) {
    thread_.join();
    tsfn_.Release();
    const bool ring_memory = rc == -ENOMEM && std::string(step).rfind("io_uring_queue_init", 0) == 0;
    const bool realtime = rc == -EPERM && std::string(step).rfind("pthread_setschedparam", 0) == 0;
    const bool slice = std::string(step).rfind("sched_setattr slice", 0) == 0;
    throw system_error(env, -rc, step,
                       ring_memory ? "relay loop setup" + memlock_advice()
                       : slice     ? "relay loop setup: the loop thread could not get a scheduler slice of " +
                                     std::to_string(options_.loop_slice_us) +
                                     " us (the kernel takes 100 to 100000 us, from Linux 6.12): set --loop-slice-us auto "
                                     "(the kernel's slice where it gives none) or 0"
                       : realtime  ? "relay loop setup: this worker may not run SCHED_FIFO at priority " +
                                        std::to_string(options_.loop_rt_priority) +
                                        ": give mcrd CAP_SYS_NICE, or raise its real-time limit to that "
                                        "(RLIMIT_RTPRIO: ulimit -r; in the systemd unit LimitRTPRIO= with RestrictRealtime=no), or set "
                                        "--loop-rt-priority auto (SCHED_FIFO only where that limit grants it) or 0"
                                   : "relay loop setup");
  }
  started_ = true;
  // Held while the thread runs: a loop JavaScript no longer references
  // (its owner dropped it without stop()) must go on relaying, not be
  // stopped by a garbage collection, and the thread's queued notify calls
  // must find the wrapper alive. on_notify lets go once it joined the thread.
  Ref();
  const LoopInfo& li = loop_->info();
  Napi::Object result = Napi::Object::New(env);
  result.Set("deferTaskrun", Napi::Boolean::New(env, li.defer_taskrun));
  result.Set("noIowait", Napi::Boolean::New(env, li.no_iowait));
  result.Set("ingress", Napi::String::New(env, options_.ingress == Ingress::ring ? "ring" : "multishot"));
  result.Set("sqEntries", Napi::Number::New(env, li.sq_entries));
  result.Set("cqEntries", Napi::Number::New(env, li.cq_entries));
  result.Set("loopSliceUs", Napi::Number::New(env, thread_setup_.slice_us));
  result.Set("loopRtPriority", Napi::Number::New(env, thread_setup_.rt_priority));
  // A best-effort setting the kernel refused: its errno and message.
  const auto refusal = [&env](const SysError& e) {
    Napi::Object refused = Napi::Object::New(env);
    refused.Set("code", Napi::String::New(env, errno_code(e.err)));
    refused.Set("message", system_error(env, e).Message());
    return refused;
  };
  if (thread_setup_.rt_refused.failed()) result.Set("loopRtRefused", refusal(thread_setup_.rt_refused));
  if (thread_setup_.slice_refused.failed()) result.Set("loopSliceRefused", refusal(thread_setup_.slice_refused));
  return result;
}

Napi::Value LoopWrap::Counters(const Napi::CallbackInfo& info) {
  // External buffer over the live block; the finalizer holds a reference so
  // the memory outlives both this object and the loop.
  auto* keep = new std::shared_ptr<CounterBlock>(counters_);
  return Napi::ArrayBuffer::New(
      info.Env(), counters_->data(), counters_->words() * sizeof(uint64_t),
      [](Napi::Env, void*, std::shared_ptr<CounterBlock>* hold) { delete hold; }, keep);
}

Napi::Promise LoopWrap::post(Napi::Env env, Command cmd, Napi::Value result) {
  cmd.seq = next_seq_++;
  const uint64_t seq = cmd.seq;
  // Node 20 can only reference objects: an undefined result stays empty.
  Pending pending{Napi::Promise::Deferred::New(env),
                  result.IsObject() ? Napi::Persistent(result) : Napi::Reference<Napi::Value>()};
  Napi::Promise promise = pending.deferred.Promise();
  const int rc = commands_->post(std::move(cmd));
  if (rc != 0) throw system_error(env, -rc, "write", "command eventfd");
  pending_.emplace(seq, std::move(pending));
  return promise;
}

Napi::Value LoopWrap::AddRule(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ensure_running(env);
  Command cmd;
  cmd.kind = Command::Kind::add_rule;
  cmd.rule = rule_from_js(env, info[0], *counters_);
  Napi::Object slots = rule_slots_to_js(env, *cmd.rule);
  return post(env, std::move(cmd), slots);
}

Napi::Value LoopWrap::RemoveRule(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ensure_running(env);
  Command cmd;
  cmd.kind = Command::Kind::remove_rule;
  cmd.rule_id = uint_arg(env, info[0], "rule id", 0xffffffffu);
  return post(env, std::move(cmd), env.Undefined());
}

Napi::Value LoopWrap::ReplaceRules(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ensure_running(env);
  if (!info[0].IsArray()) throw coded_error(env, "ERR_MCR_INVALID_ARG", "rules must be an array");
  Napi::Array list = info[0].As<Napi::Array>();
  Command cmd;
  cmd.kind = Command::Kind::replace_rules;
  // One entry per rule, in order: its counter slots, or { refused: error }
  // when it cannot be built (a socket the kernel refuses, no counter slot).
  // A refused rule is left out and the others are installed: one rule that
  // cannot be applied must never stop the rest of an interface's rules.
  Napi::Array slots = Napi::Array::New(env, list.Length());
  // One read of the host's addresses for every output of the set (a
  // getifaddrs netlink dump per output was about half of a 10 000-rule sync).
  AddressSnapshot addresses;
  const AddressSnapshot* snapshot = addresses.take().failed() ? nullptr : &addresses;
  try {
    for (uint32_t i = 0; i < list.Length(); ++i) {
      try {
        cmd.rules.push_back(rule_from_js(env, list.Get(i), *counters_, snapshot));
        slots.Set(i, rule_slots_to_js(env, *cmd.rules.back()));
      } catch (const Napi::Error& e) {
        // rule_from_js released whatever it had claimed for this rule.
        Napi::Object refused = Napi::Object::New(env);
        refused.Set("refused", e.Value());
        slots.Set(i, refused);
      }
    }
  } catch (...) {
    // Anything else: rules converted so far were never handed over.
    for (auto& rule : cmd.rules) {
      for (auto& out : rule->outputs) counters_->release_output_slot(out->slot);
      counters_->release_rule_slot(rule->slot);
    }
    // A JS error (an exception from V8 itself) goes on as it is; a C++ one
    // (std::bad_alloc) would pass N-API uncaught and abort the process.
    try {
      throw;
    } catch (const Napi::Error&) {
      throw;
    } catch (const std::exception& e) {
      throw coded_error(env, "ENOMEM", std::string("replaceRules: out of memory building the rules (") + e.what() +
                                           "): nothing changed; give the worker more memory or fewer rules");
    }
  }
  return post(env, std::move(cmd), slots);
}

Napi::Value LoopWrap::Stop(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!started_) throw coded_error(env, "ERR_MCR_NOT_STARTED", "the loop is not started");
  if (stop_deferred_) return stop_deferred_->Promise();
  stop_deferred_ = std::make_unique<Napi::Promise::Deferred>(env);
  stop_posted_ = true;
  if (joined_) {
    // The thread already ended on an error: its outcome, now that someone asks.
    Napi::Promise promise = stop_deferred_->Promise();
    settle_stop(env);
    return promise;
  }
  const int rc = commands_->post(Command{});
  if (rc != 0) throw system_error(env, -rc, "write", "command eventfd");
  return stop_deferred_->Promise();
}

Napi::Value LoopWrap::DrainLogs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<LogEvent> events = logs_->drain();
  Napi::Array out = Napi::Array::New(env, events.size());
  for (uint32_t i = 0; i < events.size(); ++i) {
    const LogEvent& e = events[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("level", Napi::Number::New(env, static_cast<int>(e.level)));
    o.Set("code", Napi::String::New(env, e.code));
    o.Set("message", Napi::String::New(env, e.message));
    o.Set("errno", Napi::Number::New(env, e.err));
    o.Set("slot", Napi::Number::New(env, static_cast<double>(e.slot)));
    o.Set("count", Napi::Number::New(env, static_cast<double>(e.count)));
    out.Set(i, o);
  }
  return out;
}

void LoopWrap::settle_completed(Napi::Env env) {
  for (const CommandResult& done : commands_->take_completed()) {
    auto it = pending_.find(done.seq);
    if (it == pending_.end()) continue;
    if (done.result == 0) {
      Napi::Reference<Napi::Value>& result = it->second.result;
      it->second.deferred.Resolve(result.IsEmpty() ? env.Undefined() : result.Value());
    } else {
      it->second.deferred.Reject(system_error(env, -done.result, "apply", "rule command").Value());
    }
    pending_.erase(it);
  }
}

void LoopWrap::on_notify(Napi::Env env) {
  Napi::HandleScope scope(env);
  settle_completed(env);
  if (!exited_.load(std::memory_order_acquire) || !thread_.joinable()) return;
  thread_.join();
  loop_.reset();
  // Results the thread posted after the take above (an earlier notify may
  // have taken the batch before them, and the last notify's call sees the
  // thread gone): applied commands resolve, not reject as never applied.
  settle_completed(env);
  for (auto& [seq, pending] : pending_) {
    pending.deferred.Reject(coded_error(env, "ERR_MCR_STOPPED", "the loop stopped before applying the command").Value());
  }
  pending_.clear();
  tsfn_.Release();
  joined_ = true;
  Unref();
  // Ended on an error with no stop() asked: a promise rejected now would
  // have no handler (an unhandled rejection ends the process before the
  // relay has logged why); stop() gets the outcome when it is called.
  if (stop_deferred_) settle_stop(env);
}

void LoopWrap::settle_stop(Napi::Env env) {
  if (exit_code_ == 0) {
    stop_deferred_->Resolve(env.Undefined());
  } else {
    stop_deferred_->Reject(out_of_memory_ ? system_error(env, -exit_code_, "operator new", "relay loop thread").Value()
                                          : system_error(env, -exit_code_, "io_uring_enter", "relay loop").Value());
  }
}

}  // namespace mcr
