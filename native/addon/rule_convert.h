// Turns a rule object from JavaScript into a core Rule: parses addresses,
// claims counter slots and opens the output sockets, all on the TS thread so
// the loop only links the finished rule in. Any failure throws a JS error and
// leaves no socket open and no slot claimed.
#pragma once
#include <napi.h>

#include <memory>

#include "core/counters.h"
#include "core/egress_socket.h"
#include "core/rule_table.h"

namespace mcr {

// `addresses`: the host's addresses read once for a whole set (null: read them for this rule).
std::unique_ptr<Rule> rule_from_js(Napi::Env env, const Napi::Value& value, CounterBlock& counters,
                                   const AddressSnapshot* addresses = nullptr);
Napi::Object rule_slots_to_js(Napi::Env env, const Rule& rule);
// Parses dotted-quad IPv4; throws ERR_MCR_INVALID_ARG naming `field`.
uint32_t ipv4_from_js(Napi::Env env, const Napi::Value& value, const char* field);

}  // namespace mcr
