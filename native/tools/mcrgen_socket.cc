// mcrgen's socket setup (mcrgen_socket.h): what both families share (send
// buffer, IP_RECVERR so a full device queue is reported as ENOBUFS at all,
// see mcrgen.cc), then each family's TTL or hop limits, outgoing interface
// and bind.
#include "tools/mcrgen_socket.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cerrno>
#include <string>

#include "tools/tool_args.h"
#include "tools/tool_socket.h"

namespace mcrgen {

namespace {

void set_int_opt(int fd, int level, int name, int value, const char* what) { tool_set_int_opt(kTool, fd, level, name, value, what); }

// Unicast ignores IP_MULTICAST_IF / IPV6_MULTICAST_IF; SO_BINDTODEVICE pins
// both kinds of destination to --interface.
void bind_to_device(int fd, const std::string& ifname) {
  if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname.c_str(), static_cast<socklen_t>(ifname.size())) < 0) {
    tool_fail(kTool, errno, "setsockopt SO_BINDTODEVICE " + ifname, "needs CAP_NET_RAW on kernels before 5.7");
  }
}

// The IPv6 half of open_socket: hop limits, IPV6_MULTICAST_IF and
// SO_BINDTODEVICE for --interface, --source / --source-port bound.
int setup_ipv6(int fd, const Config& c) {
  set_int_opt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, c.ttl, "setsockopt IPV6_UNICAST_HOPS");
  set_int_opt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, c.ttl, "setsockopt IPV6_MULTICAST_HOPS");
  set_int_opt(fd, IPPROTO_IPV6, IPV6_RECVERR, 1, "setsockopt IPV6_RECVERR");
  if (!c.ifname.empty()) {
    set_int_opt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, static_cast<int>(tool_ifindex(kTool, c.ifname)), "setsockopt IPV6_MULTICAST_IF");
    bind_to_device(fd, c.ifname);
  }
  if (c.has_source || c.source_port != 0) {
    sockaddr_in6 src{};
    src.sin6_family = AF_INET6;
    src.sin6_addr = c.source6;  // :: without --source
    src.sin6_port = htons(c.source_port);
    src.sin6_scope_id = c.dest6.sin6_scope_id;
    if (bind(fd, reinterpret_cast<const sockaddr*>(&src), sizeof src) < 0) {
      const int err = errno;  // before anything else can change it
      tool_fail(kTool, err, "bind " + tool_addr_text(c.source6),
                "check --source is an address of this host (not tentative) and --source-port is not in use");
    }
  }
  return fd;
}

}  // namespace

int open_socket(const Config& c) {
  const int fd = tool_udp_socket(kTool, c.v6);
  // Room for bursts of whole batches.
  tool_socket_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, 4 << 20);
  if (c.v6) return setup_ipv6(fd, c);
  set_int_opt(fd, IPPROTO_IP, IP_TTL, c.ttl, "setsockopt IP_TTL");
  set_int_opt(fd, IPPROTO_IP, IP_MULTICAST_TTL, c.ttl, "setsockopt IP_MULTICAST_TTL");
  set_int_opt(fd, IPPROTO_IP, IP_RECVERR, 1, "setsockopt IP_RECVERR");  // see mcrgen.cc
  // IP_MULTICAST_LOOP stays at its default (on) so a sink on this host, e.g.
  // on lo or in the same namespace, receives multicast sent from here.

  if (!c.ifname.empty()) {
    ip_mreqn mreq{};
    mreq.imr_ifindex = static_cast<int>(tool_ifindex(kTool, c.ifname));
    if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &mreq, sizeof mreq) < 0) {
      tool_fail(kTool, errno, "setsockopt IP_MULTICAST_IF " + c.ifname);
    }
    bind_to_device(fd, c.ifname);
  }
  if (c.has_source || c.source_port != 0) {
    sockaddr_in src{};
    src.sin_family = AF_INET;
    src.sin_addr = c.source;  // INADDR_ANY without --source
    src.sin_port = htons(c.source_port);
    if (bind(fd, reinterpret_cast<const sockaddr*>(&src), sizeof src) < 0) {
      const int err = errno;  // before anything else can change it
      tool_fail(kTool, err, "bind " + tool_addr_text(c.source),
                "check --source is an address of this host and --source-port is not in use");
    }
  }
  return fd;
}

}  // namespace mcrgen
