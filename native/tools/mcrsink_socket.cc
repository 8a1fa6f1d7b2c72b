// mcrsink's socket setup (mcrsink_socket.h): what both families share
// (receive buffer, kernel receive timestamps), then each family's TTL or hop
// limit reports, bind and group join.
#include "tools/mcrsink_socket.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cerrno>
#include <string>

#include "tools/tool_args.h"
#include "tools/tool_socket.h"

namespace mcrsink {

namespace {

// With --group: several sinks may listen to one group and port on the same
// host (SO_REUSEADDR), and a socket bound to the wildcard must not also get
// every group any other socket on the host joined (IP_MULTICAST_ALL and
// IPV6_MULTICAST_ALL default to 1, ip(7), ipv6(7)). Best effort: neither
// changes what arrives from a group bound to its own address.
void share_group_port(int fd, int level, int multicast_all) {
  const int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  const int zero = 0;
  setsockopt(fd, level, multicast_all, &zero, sizeof zero);
}

// Exits 1 for a failed bind of `where`, with what to check for the usual causes.
[[noreturn]] void fail_bind(int err, const std::string& where, const char* not_available_hint) {
  tool_fail(kTool, err, "bind " + where,
            err == EADDRINUSE     ? "another socket already holds this port"
            : err == EADDRNOTAVAIL ? not_available_hint
                                   : nullptr);
}

// The IPv6 half of open_socket: hop limits as IPV6_HOPLIMIT control
// messages, bound to the group (scoped to --interface, which a link-local
// group needs), joined with IPV6_JOIN_GROUP.
void setup_ipv6(int fd, const Config& c) {
  tool_set_int_opt(kTool, fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1, "setsockopt(IPV6_RECVHOPLIMIT)");
  const unsigned ifindex = c.ifname.empty() ? 0 : tool_ifindex(kTool, c.ifname);
  if (c.has_group) share_group_port(fd, IPPROTO_IPV6, IPV6_MULTICAST_ALL);
  sockaddr_in6 local{};
  local.sin6_family = AF_INET6;
  local.sin6_addr = c.bind6;
  local.sin6_port = htons(c.port);
  local.sin6_scope_id = ifindex;
  if (bind(fd, reinterpret_cast<const sockaddr*>(&local), sizeof local) < 0) {
    const int err = errno;
    fail_bind(err, "[" + tool_addr_text(c.bind6) + "]:" + std::to_string(c.port), "check --bind is an address of this host (and not tentative)");
  }
  if (c.has_group) {
    ipv6_mreq mreq{};
    mreq.ipv6mr_multiaddr = c.group6;
    mreq.ipv6mr_interface = ifindex;
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &mreq, sizeof mreq) < 0) {
      const int err = errno;
      tool_fail(kTool, err, "IPV6_JOIN_GROUP " + tool_addr_text(c.group6), err == ENODEV && c.ifname.empty() ? "no multicast route; pass --interface" : nullptr);
    }
  }
}

}  // namespace

int open_socket(const Config& c) {
  const int fd = tool_udp_socket(kTool, c.v6);
  // A deep queue absorbs the generator's batches while this process is off
  // the CPU.
  tool_socket_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, 32 << 20);
  // Each datagram's TTL arrives as an IP_TTL control message (ip(7)).
  if (!c.v6) tool_set_int_opt(kTool, fd, IPPROTO_IP, IP_RECVTTL, 1, "setsockopt(IP_RECVTTL)");
  // Each datagram's kernel receive time (CLOCK_REALTIME) as an
  // SCM_TIMESTAMPNS control message. Only with --latency: it turns receive
  // timestamping on for every packet the host receives (net_enable_timestamp).
  if (c.latency) tool_set_int_opt(kTool, fd, SOL_SOCKET, SO_TIMESTAMPNS, 1, "setsockopt(SO_TIMESTAMPNS)");
  if (c.v6) {
    setup_ipv6(fd, c);
    return fd;
  }
  if (c.has_group) share_group_port(fd, IPPROTO_IP, IP_MULTICAST_ALL);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_addr = c.bind_addr;
  local.sin_port = htons(c.port);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&local), sizeof local) < 0) {
    const int err = errno;
    fail_bind(err, tool_addr_text(c.bind_addr) + ":" + std::to_string(c.port), "check --bind is an address of this host");
  }
  if (c.has_group) {
    ip_mreqn mreq{};
    mreq.imr_multiaddr = c.group;
    mreq.imr_ifindex = c.ifname.empty() ? 0 : static_cast<int>(tool_ifindex(kTool, c.ifname));
    if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof mreq) < 0) {
      const int err = errno;
      tool_fail(kTool, err, "IP_ADD_MEMBERSHIP " + tool_addr_text(c.group),
                err == ENODEV && c.ifname.empty()
                    ? "no multicast route; pass --interface"
                    : nullptr);
    }
  }
  return fd;
}

}  // namespace mcrsink
