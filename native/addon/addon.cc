// Module entry of mcr_native.node: the Loop class and the few system calls
// TypeScript cannot make (AF_PACKET, group membership, MTU, closing fds, the
// netlink interface monitor, the interfaces' drop counters; the handover
// and privilege calls live in process_api.cc).
// Loaded only by native/index.ts.
#include <arpa/inet.h>
#include <napi.h>
#include <netinet/in.h>
#include <unistd.h>

#include <vector>

#include "addon/interface_monitor_wrap.h"
#include "addon/loop_wrap.h"
#include "addon/napi_errors.h"
#include "addon/process_api.h"
#include "addon/rule_convert.h"
#include "core/counters.h"
#include "core/frame_parser.h"
#include "core/packet_socket.h"
#include "core/interface_drops.h"

namespace mcr {
namespace {

std::string string_arg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsString())
    throw coded_error(info.Env(), "ERR_MCR_INVALID_ARG", std::string(name) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

Napi::Value OpenPacketSocket(const Napi::CallbackInfo& info) {
  PacketSocketOptions opts;
  opts.interface = string_arg(info, 0, "interface");
  if (info.Length() > 1 && !info[1].IsUndefined()) opts.fanout_group = static_cast<uint16_t>(uint_arg(info.Env(), info[1], "fanoutGroup", 0xffff));
  if (info.Length() > 2 && !info[2].IsUndefined()) {
    if (!info[2].IsObject()) throw coded_error(info.Env(), "ERR_MCR_INVALID_ARG", "options must be an object");
    const Napi::Value deferred = info[2].As<Napi::Object>().Get("deferred");
    if (!deferred.IsUndefined() && !deferred.IsBoolean())
      throw coded_error(info.Env(), "ERR_MCR_INVALID_ARG", "options.deferred must be a boolean");
    opts.deferred = deferred.IsBoolean() && deferred.As<Napi::Boolean>().Value();
  }
  int fd = -1;
  SysError e = open_packet_socket(opts, &fd);
  if (e.failed()) throw system_error(info.Env(), e);
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value ActivatePacketSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) throw coded_error(env, "ERR_MCR_INVALID_ARG", "fd must be a number");
  const std::string ifname = string_arg(info, 1, "interface");
  uint32_t group = 0;
  if (!info[2].IsUndefined()) {
    group = uint_arg(env, info[2], "fanoutGroup", 0xffff);
  }
  // The index resolved earlier (interfaceIndex), or looked up now.
  unsigned ifindex = 0;
  if (info[3].IsNumber()) {
    ifindex = info[3].As<Napi::Number>().Uint32Value();
  } else {
    SysError e = interface_index(ifname, &ifindex);
    if (e.failed()) throw system_error(env, e);
  }
  SysError e = activate_packet_socket(info[0].As<Napi::Number>().Int32Value(), ifindex, ifname, static_cast<uint16_t>(group));
  if (e.failed()) throw system_error(env, e);
  return env.Undefined();
}

Napi::Value InterfaceIndex(const Napi::CallbackInfo& info) {
  unsigned ifindex = 0;
  SysError e = interface_index(string_arg(info, 0, "interface"), &ifindex);
  if (e.failed()) throw system_error(info.Env(), e);
  return Napi::Number::New(info.Env(), ifindex);
}

Napi::Value JoinGroup(const Napi::CallbackInfo& info) {
  const std::string ifname = string_arg(info, 0, "interface");
  int fd = -1;
  SysError e;
  in6_addr group6{};
  const std::string text = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : std::string();
  if (::inet_pton(AF_INET6, text.c_str(), &group6) == 1) {
    e = join_group6(ifname, group6, &fd);
  } else {
    e = join_group(ifname, ipv4_from_js(info.Env(), info[1], "group"), &fd);
  }
  if (e.failed()) throw system_error(info.Env(), e);
  return Napi::Number::New(info.Env(), fd);
}

// An IPv4 or IPv6 address string as the sockaddr the membership calls take.
sockaddr_storage address_from_js(Napi::Env env, const Napi::Value& value, const char* field) {
  if (!value.IsString()) throw coded_error(env, "ERR_MCR_INVALID_ARG", std::string(field) + " must be an IP address string");
  const std::string text = value.As<Napi::String>().Utf8Value();
  sockaddr_storage out{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out);
  if (::inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
  } else if (::inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
  } else {
    throw coded_error(env, "ERR_MCR_INVALID_ARG", std::string(field) + ": \"" + text + "\" is not an IP address");
  }
  return out;
}

Napi::Value OpenMembershipSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int family = AF_INET;
  if (info.Length() > 0 && !info[0].IsUndefined()) {
    const uint32_t version = info[0].IsNumber() ? info[0].As<Napi::Number>().Uint32Value() : 0;
    if (version != 4 && version != 6) throw coded_error(env, "ERR_MCR_INVALID_ARG", "family must be 4 or 6");
    family = version == 6 ? AF_INET6 : AF_INET;
  }
  int fd = -1;
  SysError e = open_membership_socket(family, &fd);
  if (e.failed()) throw system_error(env, e);
  return Napi::Number::New(env, fd);
}

Napi::Value ChangeMembership(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber() || !info[1].IsNumber())
    throw coded_error(env, "ERR_MCR_INVALID_ARG", "fd and ifindex must be numbers");
  if (!info[3].IsBoolean()) throw coded_error(env, "ERR_MCR_INVALID_ARG", "join must be a boolean");
  const sockaddr_storage group = address_from_js(env, info[2], "group");
  SysError e = change_membership(info[0].As<Napi::Number>().Int32Value(), info[1].As<Napi::Number>().Int32Value(), group,
                                 info[3].As<Napi::Boolean>().Value());
  if (e.failed()) throw system_error(env, e);
  return env.Undefined();
}

Napi::Value ChangeSourceMembership(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber() || !info[1].IsNumber())
    throw coded_error(env, "ERR_MCR_INVALID_ARG", "fd and ifindex must be numbers");
  if (!info[4].IsBoolean()) throw coded_error(env, "ERR_MCR_INVALID_ARG", "join must be a boolean");
  const sockaddr_storage group = address_from_js(env, info[2], "group");
  const sockaddr_storage source = address_from_js(env, info[3], "source");
  SysError e = change_source_membership(info[0].As<Napi::Number>().Int32Value(), info[1].As<Napi::Number>().Int32Value(),
                                        group, source, info[4].As<Napi::Boolean>().Value());
  if (e.failed()) throw system_error(env, e);
  return env.Undefined();
}

Napi::Value InterfaceMtu(const Napi::CallbackInfo& info) {
  int mtu = 0;
  SysError e = interface_mtu(string_arg(info, 0, "interface"), &mtu);
  if (e.failed()) throw system_error(info.Env(), e);
  return Napi::Number::New(info.Env(), mtu);
}

// What the kernel dropped on every interface of mcrd's network namespace
// (core/interface_drops.h), read on a libuv worker thread: the dumps take
// the kernel's rtnl lock, which a busy host may hold for long, and mcrd's
// event loop must not wait on it. Resolves with { roots: [{ ifindex, kind,
// drops? }], links: [{ ifindex, txDropped, name, kind,
// linkIfindex?, masterIfindex? }] }, or rejects with the system
// error.
class InterfaceDropsWorker : public Napi::AsyncWorker {
 public:
  explicit InterfaceDropsWorker(Napi::Env env) : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise promise() const { return deferred_.Promise(); }

  void Execute() override { error_ = read_interface_drops(&drops_); }

  void OnOK() override {
    Napi::Env env = Env();
    if (error_.failed()) {
      deferred_.Reject(system_error(env, error_).Value());
      return;
    }
    Napi::Array roots = Napi::Array::New(env, drops_.roots.size());
    for (uint32_t i = 0; i < drops_.roots.size(); ++i) {
      const RootQdisc& q = drops_.roots[i];
      Napi::Object o = Napi::Object::New(env);
      o.Set("ifindex", Napi::Number::New(env, q.ifindex));
      o.Set("kind", Napi::String::New(env, q.kind));
      if (q.has_stats) o.Set("drops", Napi::Number::New(env, q.drops));
      roots.Set(i, o);
    }
    Napi::Array links = Napi::Array::New(env, drops_.links.size());
    for (uint32_t i = 0; i < drops_.links.size(); ++i) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("ifindex", Napi::Number::New(env, drops_.links[i].ifindex));
      // A double holds counts to 2^53 exactly: years of drops at line rate.
      o.Set("txDropped", Napi::Number::New(env, static_cast<double>(drops_.links[i].tx_dropped)));
      o.Set("name", Napi::String::New(env, drops_.links[i].name));
      o.Set("kind", Napi::String::New(env, drops_.links[i].kind));
      if (drops_.links[i].link_ifindex != 0) o.Set("linkIfindex", Napi::Number::New(env, drops_.links[i].link_ifindex));
      if (drops_.links[i].master_ifindex != 0) o.Set("masterIfindex", Napi::Number::New(env, drops_.links[i].master_ifindex));
      links.Set(i, o);
    }
    Napi::Object out = Napi::Object::New(env);
    out.Set("roots", roots);
    out.Set("links", links);
    deferred_.Resolve(out);
  }

 private:
  Napi::Promise::Deferred deferred_;
  InterfaceDrops drops_;
  SysError error_;
};

Napi::Value ReadInterfaceDrops(const Napi::CallbackInfo& info) {
  auto* worker = new InterfaceDropsWorker(info.Env());  // deletes itself after OnOK
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  if (!info[0].IsNumber()) throw coded_error(info.Env(), "ERR_MCR_INVALID_ARG", "fd must be a number");
  if (::close(info[0].As<Napi::Number>().Int32Value()) != 0) throw system_error(info.Env(), errno, "close", "");
  return info.Env().Undefined();
}

Napi::Array names(Napi::Env env, std::initializer_list<const char*> list) {
  Napi::Array out = Napi::Array::New(env, list.size());
  uint32_t i = 0;
  for (const char* n : list) out.Set(i++, Napi::String::New(env, n));
  return out;
}

Napi::Value CounterLayout(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object layout = Napi::Object::New(env);
#define MCR_NAME(name) #name,
  layout.Set("loop", names(env, {MCR_LOOP_COUNTERS(MCR_NAME)}));
  layout.Set("rule", names(env, {MCR_RULE_COUNTERS(MCR_NAME)}));
  layout.Set("output", names(env, {MCR_OUTPUT_COUNTERS(MCR_NAME)}));
#undef MCR_NAME
  return layout;
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Loop", LoopWrap::Define(env));
  exports.Set("openPacketSocket", Napi::Function::New<OpenPacketSocket>(env, "openPacketSocket"));
  exports.Set("interfaceIndex", Napi::Function::New<InterfaceIndex>(env, "interfaceIndex"));
  exports.Set("activatePacketSocket", Napi::Function::New<ActivatePacketSocket>(env, "activatePacketSocket"));
  exports.Set("joinGroup", Napi::Function::New<JoinGroup>(env, "joinGroup"));
  exports.Set("openMembershipSocket", Napi::Function::New<OpenMembershipSocket>(env, "openMembershipSocket"));
  exports.Set("changeMembership", Napi::Function::New<ChangeMembership>(env, "changeMembership"));
  exports.Set("changeSourceMembership", Napi::Function::New<ChangeSourceMembership>(env, "changeSourceMembership"));
  exports.Set("InterfaceMonitor", InterfaceMonitorWrap::Define(env));
  exports.Set("interfaceMtu", Napi::Function::New<InterfaceMtu>(env, "interfaceMtu"));
  exports.Set("interfaceDrops", Napi::Function::New<ReadInterfaceDrops>(env, "interfaceDrops"));
  exports.Set("closeFd", Napi::Function::New<CloseFd>(env, "closeFd"));
  exports.Set("counterLayout", Napi::Function::New<CounterLayout>(env, "counterLayout"));
  exports.Set("loopOptionRanges", Napi::Function::New(env, [](const Napi::CallbackInfo& info) { return loop_option_ranges(info.Env()); }, "loopOptionRanges"));
  register_process_api(env, exports);
  return exports;
}

}  // namespace mcr

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return mcr::Init(env, exports); }
NODE_API_MODULE(mcr_native, InitModule)
