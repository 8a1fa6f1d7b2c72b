// InterfaceMonitor implementation: open and poll the netlink socket, turn
// core events into plain JS objects, hand them to the callback.
#include "addon/interface_monitor_wrap.h"

#include <net/if.h>
#include <netinet/in.h>

#include <cstring>

#include "addon/napi_errors.h"
#include "core/egress_socket.h"

namespace mcr {
namespace {

const char* kind_name(InterfaceEventKind kind) {
  switch (kind) {
    case InterfaceEventKind::link: return "link";
    case InterfaceEventKind::link_removed: return "linkRemoved";
    case InterfaceEventKind::address_added: return "addressAdded";
    case InterfaceEventKind::address_removed: return "addressRemoved";
    case InterfaceEventKind::resync: return "resync";
    case InterfaceEventKind::synced: return "synced";
  }
  return "unknown";
}

Napi::Object event_to_js(Napi::Env env, const InterfaceEvent& e) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("type", Napi::String::New(env, kind_name(e.kind)));
  if (e.kind == InterfaceEventKind::resync || e.kind == InterfaceEventKind::synced) return o;
  o.Set("ifindex", Napi::Number::New(env, e.ifindex));
  o.Set("name", Napi::String::New(env, e.name));
  if (e.kind == InterfaceEventKind::link || e.kind == InterfaceEventKind::link_removed) {
    o.Set("up", Napi::Boolean::New(env, (e.flags & IFF_UP) != 0));
    o.Set("running", Napi::Boolean::New(env, (e.flags & IFF_RUNNING) != 0));
    o.Set("flags", Napi::Number::New(env, e.flags));
  } else {
    if (e.family == AF_INET6) {
      in6_addr a6;
      std::memcpy(&a6, e.address6, sizeof(a6));
      o.Set("address", Napi::String::New(env, format_ipv6(a6)));
    } else {
      o.Set("address", Napi::String::New(env, format_ipv4(e.address)));
    }
    o.Set("family", Napi::Number::New(env, e.family == AF_INET6 ? 6 : 4));
    o.Set("prefixLength", Napi::Number::New(env, e.prefix_len));
  }
  return o;
}

}  // namespace

Napi::Function InterfaceMonitorWrap::Define(Napi::Env env) {
  return DefineClass(env, "InterfaceMonitor",
                     {InstanceMethod<&InterfaceMonitorWrap::Close>("close"),
                      InstanceMethod<&InterfaceMonitorWrap::Malformed>("malformed")});
}

InterfaceMonitorWrap::InterfaceMonitorWrap(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<InterfaceMonitorWrap>(info), env_(info.Env()), context_(info.Env(), "mcr-interface-monitor") {
  Napi::Env env = info.Env();
  if (!info[0].IsFunction()) throw coded_error(env, "ERR_MCR_INVALID_ARG", "InterfaceMonitor needs a callback (err, events)");
  callback_ = Napi::Persistent(info[0].As<Napi::Function>());
  SysError e = monitor_.open();
  if (e.failed()) throw system_error(env, e);
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
    monitor_.close();
    throw coded_error(env, "ERR_MCR_INTERNAL", "no libuv loop to poll the netlink socket on");
  }
  poll_ = new uv_poll_t;
  int rc = uv_poll_init(loop, poll_, monitor_.fd());
  if (rc == 0) {
    poll_->data = this;
    rc = uv_poll_start(poll_, UV_READABLE, &InterfaceMonitorWrap::on_poll);
  }
  if (rc != 0) {
    monitor_.close();
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    poll_ = nullptr;
    throw system_error(env, -rc, "uv_poll_start", "netlink socket");
  }
  // Kept alive while polling: the callback must not outlive this object.
  Ref();
}

InterfaceMonitorWrap::~InterfaceMonitorWrap() { stop(); }

void InterfaceMonitorWrap::stop() {
  if (poll_ != nullptr) {
    uv_poll_stop(poll_);
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    poll_ = nullptr;
    Unref();
  }
  monitor_.close();
}

Napi::Value InterfaceMonitorWrap::Close(const Napi::CallbackInfo& info) {
  stop();
  return info.Env().Undefined();
}

Napi::Value InterfaceMonitorWrap::Malformed(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(monitor_.malformed()));
}

void InterfaceMonitorWrap::on_poll(uv_poll_t* handle, int status, int) {
  auto* self = static_cast<InterfaceMonitorWrap*>(handle->data);
  if (self == nullptr) return;
  if (status < 0) {
    // Poll errors are reported like read errors: through the callback.
    Napi::HandleScope scope(self->env_);
    Napi::Error err = system_error(self->env_, -status, "uv_poll", "netlink socket");
    try {
      self->callback_.MakeCallback(self->env_.Global(), {err.Value(), self->env_.Null()}, self->context_);
    } catch (const Napi::Error& e) {
      napi_fatal_exception(self->env_, e.Value());
    }
    return;
  }
  self->deliver();
}

void InterfaceMonitorWrap::deliver() {
  Napi::Env env = env_;
  Napi::HandleScope scope(env);
  std::vector<InterfaceEvent> events;
  SysError e = monitor_.read(&events);
  Napi::Array list = Napi::Array::New(env, events.size());
  for (uint32_t i = 0; i < events.size(); ++i) list.Set(i, event_to_js(env, events[i]));
  Napi::Value err = e.failed() ? system_error(env, e).Value() : env.Null();
  if (events.empty() && !e.failed()) return;
  // A read error other than an overrun (handled in the core) will not go
  // away by itself: stop polling, so it is reported once and not per wake-up.
  if (e.failed()) stop();
  try {
    callback_.MakeCallback(env.Global(), {err, list}, context_);
  } catch (const Napi::Error& ex) {
    // No JS frame to throw into from a libuv callback: make it Node's
    // uncaught exception, as an exception in an event handler would be.
    napi_fatal_exception(env, ex.Value());
  }
}

}  // namespace mcr
