// mcrsink's options and their checks (mcrsink_config.h): the address family
// from --group or --bind, a multicast --group, --interface only with a group.
#include "tools/mcrsink_config.h"

#include <arpa/inet.h>

#include "tools/tool_args.h"

namespace mcrsink {

Config parse_args(int argc, char** argv) {
  const ToolArgs args(
      kTool, "Receive mcrgen's UDP test packets; count loss, duplicates, reordering, corruption.",
      {
          {"port", "PORT", "UDP port to receive on (required)"},
          {"group", "ADDR", "join this multicast group, IPv4 or IPv6 (and bind to it unless --bind)"},
          {"interface", "IF", "interface to join --group on (default: chosen by route)"},
          {"bind", "ADDR", "local address to bind, IPv4 or IPv6 (default 0.0.0.0 / ::, or --group)"},
          {"count", "N", "stop after N packets"},
          {"duration", "SEC", "stop after SEC seconds"},
          {"idle", "SEC", "stop after SEC seconds without packets, once one arrived"},
          {"latency", nullptr, "report one-way latency of mcrgen --timestamp payloads from the kernel's receive time (SO_TIMESTAMPNS)"},
      },
      argc, argv);
  Config c;
  c.port = static_cast<uint16_t>(args.required_uint("port", 1, 65535));
  c.has_group = args.has("group");
  // An address with a colon is IPv6: --group or --bind decide the family.
  const std::string group_text = args.str("group", "");
  const std::string bind_text = args.str("bind", "");
  c.v6 = group_text.find(':') != std::string::npos || (group_text.empty() && bind_text.find(':') != std::string::npos);
  if (c.v6) {
    if (c.has_group && (inet_pton(AF_INET6, group_text.c_str(), &c.group6) != 1 || c.group6.s6_addr[0] != 0xff)) {
      args.bad("group", "expected a multicast address 224.0.0.0/4 or ff00::/8, got \"" + group_text + "\"");
    }
    c.bind6 = c.has_group ? c.group6 : in6addr_any;
    if (!bind_text.empty() && inet_pton(AF_INET6, bind_text.c_str(), &c.bind6) != 1) {
      args.bad("bind", "expected an IPv6 address (the family of --group), got \"" + bind_text + "\"");
    }
  }
  c.group = c.v6 ? in_addr{} : args.ipv4("group", in_addr{});
  if (!c.v6 && c.has_group && !IN_MULTICAST(ntohl(c.group.s_addr))) {
    args.bad("group", "expected a multicast address 224.0.0.0/4, got \"" + args.str("group", "") +
                          "\"");
  }
  c.ifname = args.str("interface", "");
  // The interface only chooses where to join; without a group it would
  // silently do nothing, which reads like a bug in a test script.
  if (!c.ifname.empty() && !c.has_group) args.bad("interface", "only used with --group");
  in_addr any{};
  any.s_addr = htonl(INADDR_ANY);
  c.bind_addr = c.v6 ? any : args.ipv4("bind", c.has_group ? c.group : any);
  args.require_one_of("count", "duration");
  c.count = args.uint("count", 1, UINT64_MAX / 2, UINT64_MAX);
  c.has_duration = args.has("duration");
  c.duration = args.num("duration", 0, 1e7, 0);
  c.has_idle = args.has("idle");
  c.idle = args.num("idle", 0, 1e7, 0);
  c.latency = args.has("latency");
  return c;
}

}  // namespace mcrsink
