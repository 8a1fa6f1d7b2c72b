// The JS class `InterfaceMonitor`: a core NetlinkMonitor whose socket is
// polled on the Node event loop (uv_poll_t), delivering parsed interface
// events to a JS callback as arrays, one call per readable wake-up.
//
// Why a polled fd rather than a thread and a thread-safe function (as the
// relay Loop uses): interface changes arrive at control-plane rates, a few
// messages when an operator or a daemon changes something, so reading them
// on the JS thread when libuv reports the fd readable costs nothing. A
// thread would have to block in recv and be woken to stop, and would add a
// cross-thread queue and a join at shutdown for no gain. The socket is
// non-blocking, so a read never stalls the event loop.
#pragma once
#include <napi.h>
#include <uv.h>

#include "core/netlink_monitor.h"

namespace mcr {

class InterfaceMonitorWrap : public Napi::ObjectWrap<InterfaceMonitorWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit InterfaceMonitorWrap(const Napi::CallbackInfo& info);
  ~InterfaceMonitorWrap() override;

 private:
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Malformed(const Napi::CallbackInfo& info);
  static void on_poll(uv_poll_t* handle, int status, int events);
  void deliver();
  void stop();

  Napi::Env env_;
  NetlinkMonitor monitor_;
  uv_poll_t* poll_ = nullptr;  // heap: uv_close finishes after we may be gone
  Napi::FunctionReference callback_;
  Napi::AsyncContext context_;
};

}  // namespace mcr
