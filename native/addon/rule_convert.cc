// Rule conversion: a rule of the rule model (common/rule-spec.ts, RuleSpec;
// typed for the addon as NativeRule in native/index.ts) into the loop's Rule.
// The rule was validated where it entered; this refuses only what would be
// unsafe to hand the loop (wrong types, values out of the wire's range).
#include "addon/rule_convert.h"

#include <arpa/inet.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "addon/napi_errors.h"
#include "core/egress_socket.h"

namespace mcr {
namespace {

Napi::Object object_field(Napi::Env env, const Napi::Value& value, const char* what) {
  if (!value.IsObject()) throw coded_error(env, "ERR_MCR_INVALID_ARG", std::string(what) + " must be an object");
  return value.As<Napi::Object>();
}

uint32_t uint_field(Napi::Env env, const Napi::Object& obj, const char* field, uint32_t max) {
  return uint_arg(env, obj.Get(field), field, max);
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

// "ADDR" or "ADDR/LEN" of either family into `p` (the address's bytes,
// host bits refused as the validator refuses them); returns the family.
uint8_t prefix_from_text(Napi::Env env, const std::string& text, const char* field, Prefix* p) {
  const size_t slash = text.find('/');
  const std::string addr = text.substr(0, slash);
  uint8_t family = 0;
  in_addr a4{};
  in6_addr a6{};
  if (::inet_pton(AF_INET, addr.c_str(), &a4) == 1) {
    family = 4;
    std::memcpy(p->b, &a4, 4);
  } else if (::inet_pton(AF_INET6, addr.c_str(), &a6) == 1) {
    family = 6;
    std::memcpy(p->b, &a6, 16);
  } else {
    throw coded_error(env, "ERR_MCR_INVALID_ARG", std::string(field) + ": \"" + text + "\" is not an IPv4 or IPv6 address or prefix");
  }
  const uint32_t full = family == 6 ? 128 : 32;
  uint32_t len = full;
  if (slash != std::string::npos) {
    const std::string digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3 || digits.find_first_not_of("0123456789") != std::string::npos ||
        std::stoul(digits) > full)
      throw coded_error(env, "ERR_MCR_INVALID_ARG", std::string(field) + ": \"" + text + "\" has a bad prefix length");
    len = static_cast<uint32_t>(std::stoul(digits));
  }
  p->len = static_cast<uint8_t>(len);
  if (!prefix_clear_host_bits(p, family == 6 ? 16 : 4))
    throw coded_error(env, "ERR_MCR_INVALID_ARG", std::string(field) + ": \"" + text + "\" has host bits set past its prefix");
  return family;
}

// A comma-separated list of prefixes or addresses (the canonical form of
// `source` and `excludeSources`), all of `family`.
std::vector<Prefix> prefix_list_from_js(Napi::Env env, const Napi::Value& value, const char* field, uint8_t family) {
  std::vector<Prefix> list;
  if (value.IsUndefined() || value.IsNull()) return list;
  if (!value.IsString()) throw coded_error(env, "ERR_MCR_INVALID_ARG", std::string(field) + " must be a string");
  const std::string text = value.As<Napi::String>().Utf8Value();
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    Prefix p;
    if (prefix_from_text(env, text.substr(start, comma - start), field, &p) != family)
      throw coded_error(env, "ERR_MCR_INVALID_ARG", std::string(field) + " must be of the inputGroup's family");
    list.push_back(p);
    start = comma + 1;
  }
  return list;
}

}  // namespace

std::unique_ptr<Rule> rule_from_js(Napi::Env env, const Napi::Value& value, CounterBlock& counters, const AddressSnapshot* addresses) {
  Napi::Object obj = object_field(env, value, "rule");
  auto rule = std::make_unique<Rule>();
  rule->id = uint_field(env, obj, "id", 0xffffffffu);
  Napi::Value group_value = obj.Get("inputGroup");
  if (!group_value.IsString()) throw coded_error(env, "ERR_MCR_INVALID_ARG", "inputGroup must be an IP address or prefix string");
  Prefix group;
  rule->family = prefix_from_text(env, group_value.As<Napi::String>().Utf8Value(), "inputGroup", &group);
  const uint32_t full = rule->family == 6 ? 128 : 32;
  if (group.len == 0) throw coded_error(env, "ERR_MCR_INVALID_ARG", "inputGroup: a /0 prefix is not a group range");
  rule->group_len = group.len == full ? 0 : group.len;
  if (rule->family == 6) std::memcpy(rule->dst6.b, group.b, 16);
  else std::memcpy(&rule->dst_addr, group.b, 4);
  // 0 = any port (the rule model's "any").
  rule->dst_port = static_cast<uint16_t>(uint_field(env, obj, "inputPort", 65535));
  std::vector<Prefix> excludes = prefix_list_from_js(env, obj.Get("excludeSources"), "excludeSources", rule->family);
  std::vector<Prefix> sources = prefix_list_from_js(env, obj.Get("source"), "source", rule->family);
  if (!excludes.empty()) rule->sets_mut().excludes = std::move(excludes);
  if (sources.size() == 1 && sources[0].len == full && !rule->sets) {
    // One source address: the exact hash's (S,G) form, as before lists existed.
    if (rule->family == 6) std::memcpy(rule->src6.b, sources[0].b, 16);
    else std::memcpy(&rule->src_addr, sources[0].b, 4);
  } else {
    if (!sources.empty()) rule->sets_mut().sources = std::move(sources);
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
    Napi::Value group_out = o.Get("group");
    const std::string group_text = group_out.IsString() ? group_out.As<Napi::String>().Utf8Value() : std::string();
    Output::GroupMode mode = Output::GroupMode::fixed;
    if (group_text == "=") {
      // The datagram's own group: opened towards the rule's group (its base).
      mode = Output::GroupMode::keep;
      spec.family = rule->family;
      spec.dst_addr = rule->dst_addr;
      std::memcpy(&spec.dst6, rule->dst6.b, 16);
    } else if (group_text.find('/') != std::string::npos) {
      Prefix to;
      spec.family = prefix_from_text(env, group_text, "outputs[].group", &to);
      if (spec.family != rule->family || rule->group_len == 0 || to.len != rule->group_len)
        throw coded_error(env, "ERR_MCR_INVALID_ARG", "outputs[].group: a prefix must have the inputGroup prefix's family and length");
      mode = Output::GroupMode::map;
      std::memcpy(&spec.dst_addr, to.b, 4);
      std::memcpy(&spec.dst6, to.b, 16);
    } else {
      spec.family = address_from_js(env, group_out, "outputs[].group", &spec.dst_addr, &spec.dst6);
    }
    // 0 = the datagram's own port (the rule model's "="); opened towards
    // the rule's port, or the discard port when the rule takes any.
    const uint32_t out_port = uint_field(env, o, "port", 65535);
    const bool keep_port = out_port == 0;
    spec.dst_port = static_cast<uint16_t>(keep_port ? (rule->dst_port != 0 ? rule->dst_port : 9) : out_port);
    spec.connect = mode == Output::GroupMode::fixed && !keep_port;
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
    out->group_mode = mode;
    out->keep_port = keep_port;
    if (out->rewrites()) rule->rewrites = true;
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
