// Rule conversion: a rule of the rule model (common/rule-spec.ts, RuleSpec;
// typed for the addon as NativeRule in native/index.ts) into the loop's Rule.
// The rule was validated where it entered; this refuses only what would be
// unsafe to hand the loop (wrong types, values out of the wire's range).
#include "addon/rule_convert.h"

#include <arpa/inet.h>

#include <cerrno>
#include <cstring>

#include "addon/napi_errors.h"
#include "core/egress_socket.h"

namespace mcr {
namespace {

Napi::Object object_field(Napi::Env env, const Napi::Value& value, const char* what) {
  if (!value.IsObject()) throw coded_error(env, "ERR_MCR_INVALID_ARG", std::string(what) + " must be an object");
  return value.As<Napi::Object>();
}

uint32_t uint_field(Napi::Env env, const Napi::Object& obj, const char* field, uint32_t max) {
  Napi::Value v = obj.Get(field);
  if (!v.IsNumber()) throw coded_error(env, "ERR_MCR_INVALID_ARG", std::string(field) + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (d < 0 || d > max || d != static_cast<double>(static_cast<uint32_t>(d)))
    throw coded_error(env, "ERR_MCR_INVALID_ARG", std::string(field) + " must be an integer 0.." + std::to_string(max));
  return static_cast<uint32_t>(d);
}

// Releases claimed slots if conversion throws half-way.
struct SlotGuard {
  CounterBlock& counters;
  Rule& rule;
  bool rule_claimed = false;
  bool armed = true;
  ~SlotGuard() {
    if (!armed) return;
    for (auto& out : rule.outputs) counters.release_output_slot(out->slot);
    if (rule_claimed) counters.release_rule_slot(rule.slot);
  }
};

}  // namespace

uint32_t ipv4_from_js(Napi::Env env, const Napi::Value& value, const char* field) {
  if (!value.IsString()) throw coded_error(env, "ERR_MCR_INVALID_ARG", std::string(field) + " must be an IPv4 address string");
  const std::string text = value.As<Napi::String>().Utf8Value();
  in_addr addr{};
  if (::inet_pton(AF_INET, text.c_str(), &addr) != 1)
    throw coded_error(env, "ERR_MCR_INVALID_ARG", std::string(field) + ": \"" + text + "\" is not an IPv4 address");
  return addr.s_addr;
}

namespace {

// An address of either family: 4 or 6, the bytes in `v4` or `v6`.
uint8_t address_from_js(Napi::Env env, const Napi::Value& value, const char* field, uint32_t* v4, in6_addr* v6) {
  if (!value.IsString()) throw coded_error(env, "ERR_MCR_INVALID_ARG", std::string(field) + " must be an IP address string");
  const std::string text = value.As<Napi::String>().Utf8Value();
  in_addr a4{};
  if (::inet_pton(AF_INET, text.c_str(), &a4) == 1) {
    *v4 = a4.s_addr;
    return 4;
  }
  if (::inet_pton(AF_INET6, text.c_str(), v6) == 1) return 6;
  throw coded_error(env, "ERR_MCR_INVALID_ARG", std::string(field) + ": \"" + text + "\" is not an IPv4 or IPv6 address");
}

}  // namespace

std::unique_ptr<Rule> rule_from_js(Napi::Env env, const Napi::Value& value, CounterBlock& counters, const AddressSnapshot* addresses) {
  Napi::Object obj = object_field(env, value, "rule");
  auto rule = std::make_unique<Rule>();
  rule->id = uint_field(env, obj, "id", 0xffffffffu);
  in6_addr dst6{};
  rule->family = address_from_js(env, obj.Get("inputGroup"), "inputGroup", &rule->dst_addr, &dst6);
  std::memcpy(rule->dst6.b, &dst6, 16);
  rule->dst_port = static_cast<uint16_t>(uint_field(env, obj, "inputPort", 65535));
  Napi::Value src = obj.Get("source");
  if (!src.IsUndefined() && !src.IsNull()) {
    in6_addr src6{};
    if (address_from_js(env, src, "source", &rule->src_addr, &src6) != rule->family)
      throw coded_error(env, "ERR_MCR_INVALID_ARG", "source must be of the inputGroup's family");
    std::memcpy(rule->src6.b, &src6, 16);
  }
  Napi::Value monitor = obj.Get("monitor");
  if (!monitor.IsUndefined() && !monitor.IsNull()) {
    if (!monitor.IsString()) throw coded_error(env, "ERR_MCR_INVALID_ARG", "monitor must be a string");
    const std::string mode = monitor.As<Napi::String>().Utf8Value();
    uint8_t bits = monitor_off;
    if (mode == "rtp") bits = monitor_rtp;
    else if (mode == "mpegts") bits = monitor_mpegts;
    else if (mode == "rtp+mpegts") bits = monitor_rtp | monitor_mpegts;
    else throw coded_error(env, "ERR_MCR_INVALID_ARG", "monitor must be \"rtp\", \"mpegts\" or \"rtp+mpegts\"");
    rule->monitor = std::make_unique<StreamMonitor>(bits);
  }
  Napi::Value outputs_value = obj.Get("outputs");
  if (!outputs_value.IsArray() || outputs_value.As<Napi::Array>().Length() == 0)
    throw coded_error(env, "ERR_MCR_INVALID_ARG", "outputs must be a non-empty array");
  Napi::Array outputs = outputs_value.As<Napi::Array>();
  Napi::Value tolerate_value = obj.Get("tolerateMissingOutputs");
  const bool tolerate_missing = tolerate_value.IsBoolean() && tolerate_value.As<Napi::Boolean>().Value();

  SlotGuard guard{counters, *rule};
  const int rule_slot = counters.claim_rule_slot();
  if (rule_slot < 0) throw system_error(env, -rule_slot, "claim", "rule counter slot (raise ruleSlots)");
  rule->slot = static_cast<uint32_t>(rule_slot);
  guard.rule_claimed = true;

  for (uint32_t i = 0; i < outputs.Length(); ++i) {
    Napi::Object o = object_field(env, outputs.Get(i), "output");
    EgressSpec spec;
    spec.family = address_from_js(env, o.Get("group"), "outputs[].group", &spec.dst_addr, &spec.dst6);
    spec.dst_port = static_cast<uint16_t>(uint_field(env, o, "port", 65535));
    Napi::Value ifname = o.Get("interface");
    if (!ifname.IsString()) throw coded_error(env, "ERR_MCR_INVALID_ARG", "outputs[].interface must be a string");
    spec.interface = ifname.As<Napi::String>().Utf8Value();
    if (!o.Get("ttl").IsUndefined()) spec.ttl = static_cast<int>(uint_field(env, o, "ttl", 255));
    Napi::Value out_src = o.Get("source");
    if (!out_src.IsUndefined() && !out_src.IsNull() &&
        address_from_js(env, out_src, "outputs[].source", &spec.src_addr, &spec.src6) != spec.family)
      throw coded_error(env, "ERR_MCR_INVALID_ARG", "outputs[].source must be of the output group's family");

    const int slot = counters.claim_output_slot();
    if (slot < 0) throw system_error(env, -slot, "claim", "output counter slot (raise outputSlots)");
    auto out = std::make_unique<Output>();
    out->slot = static_cast<uint32_t>(slot);
    rule->outputs.push_back(std::move(out));
    EgressSocket sock;
    SysError e = open_egress_socket(spec, &sock, addresses);
    Output& installed = *rule->outputs.back();
    if (e.failed() && tolerate_missing && (e.err == ENODEV || e.err == EADDRNOTAVAIL)) {
      // mcrd follows interfaces and re-syncs when this one changes; until
      // then the rule's other outputs forward and this one counts errors.
      installed.down_errno = e.err;
      continue;
    }
    if (e.failed() && (e.err == EMFILE || e.err == ENFILE)) {
      // Say what to raise: one descriptor per output, twice during a full sync (docs/mcrd.md).
      e.detail += e.err == EMFILE
          ? " (the worker's open files limit is reached, one socket per output: raise LimitNOFILE= in mcrd's service or ulimit -n, or use fewer outputs)"
          : " (the system-wide file table is full: raise fs.file-max)";
    }
    if (e.failed()) throw system_error(env, e);
    installed.fd = sock.fd;
    installed.dest = sock.dest;
    installed.dest_len = sock.dest_len;
    installed.connected = sock.connected;
    std::memcpy(installed.own_mac, sock.mac, sizeof(installed.own_mac));
    installed.has_own_mac = sock.has_mac;
  }
  guard.armed = false;
  return rule;
}

Napi::Object rule_slots_to_js(Napi::Env env, const Rule& rule) {
  Napi::Object result = Napi::Object::New(env);
  result.Set("ruleSlot", Napi::Number::New(env, rule.slot));
  Napi::Array outs = Napi::Array::New(env, rule.outputs.size());
  Napi::Array connected = Napi::Array::New(env, rule.outputs.size());
  for (uint32_t i = 0; i < rule.outputs.size(); ++i) {
    outs.Set(i, Napi::Number::New(env, rule.outputs[i]->slot));
    connected.Set(i, Napi::Boolean::New(env, rule.outputs[i]->connected));
  }
  result.Set("outputSlots", outs);
  result.Set("outputConnected", connected);
  return result;
}

}  // namespace mcr
