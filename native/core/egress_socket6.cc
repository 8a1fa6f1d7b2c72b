// IPv6 egress sockets: the IPv6 forms of what egress_socket.cc sets for
// IPv4 (ipv6(7)): IPV6_MULTICAST_IF (the output interface's index),
// IPV6_MULTICAST_HOPS and IPV6_UNICAST_HOPS (the output's ttl),
// IPV6_MULTICAST_LOOP off, IPV6_RECVERR, the burst-sized send buffer.
// The source: the output's explicit one, bound; otherwise nothing is bound
// and the kernel picks the source on the output interface by RFC 6724 when
// the socket is connected, and keeps that choice while the socket lives
// (measured: an address removed after connect() stays the source). So mcrd
// follows IPv6 address changes on output interfaces and re-sends the rules
// they touch, which re-creates the socket (supervisor/net/interface-watcher.ts,
// docs/mcrd.md). A link-scoped destination (fe80::/10,
// ff01::/16, ff02::/16 and their flagged forms) carries the interface as its
// scope id, which is what picks the link for it.
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/egress_socket.h"

namespace mcr {
bool ipv6_link_scoped(const in6_addr& a) {
  if (a.s6_addr[0] == 0xfe && (a.s6_addr[1] & 0xc0) == 0x80) return true;
  return a.s6_addr[0] == 0xff && (a.s6_addr[1] & 0x0f) <= 2;
}

std::string format_ipv6(const in6_addr& a) {
  char text[INET6_ADDRSTRLEN] = {0};
  ::inet_ntop(AF_INET6, &a, text, sizeof(text));
  return text;
}

SysError open_egress_socket6(const EgressSpec& spec, int fd, unsigned ifindex, EgressSocket* out) {
  auto fail = [fd](const char* call, std::string what) {
    SysError e = sys_error(errno, call, std::move(what));
    ::close(fd);
    return e;
  };
  const in6_addr any = IN6ADDR_ANY_INIT;
  if (std::memcmp(&spec.src6, &any, sizeof(any)) != 0) {
    sockaddr_in6 local{};
    local.sin6_family = AF_INET6;
    local.sin6_addr = spec.src6;
    if (ipv6_link_scoped(spec.src6)) local.sin6_scope_id = ifindex;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0)
      return fail("bind", format_ipv6(spec.src6) + " for " + spec.interface);
  }
  // No SO_BINDTODEVICE, as for IPv4 (egress_socket.cc): multicast leaves
  // through IPV6_MULTICAST_IF, link-scoped destinations through their scope
  // id, other unicast follows the routing table.
  const int index = static_cast<int>(ifindex);
  if (::setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &index, sizeof(index)) != 0)
    return fail("setsockopt", "IPV6_MULTICAST_IF " + spec.interface);
  const bool multicast = spec.dst6.s6_addr[0] == 0xff;
  const int hops = spec.ttl >= 0 ? spec.ttl : (multicast ? kDefaultMulticastTtl : kDefaultUnicastTtl);
  if (::setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof(hops)) != 0)
    return fail("setsockopt", "IPV6_MULTICAST_HOPS");
  if (::setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &hops, sizeof(hops)) != 0)
    return fail("setsockopt", "IPV6_UNICAST_HOPS");
  const int off = 0;
  if (::setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &off, sizeof(off)) != 0)
    return fail("setsockopt", "IPV6_MULTICAST_LOOP");
  // As IP_RECVERR for IPv4: a full device queue completes the send with
  // -ENOBUFS instead of vanishing (udp_v6_send_skb).
  const int on = 1;
  if (::setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &on, sizeof(on)) != 0) return fail("setsockopt", "IPV6_RECVERR");

  out->dest = InetAddress{};
  out->dest.v6.sin6_family = AF_INET6;
  out->dest.v6.sin6_addr = spec.dst6;
  out->dest.v6.sin6_port = htons(spec.dst_port);
  // A rewriting output's groups come from the datagrams: any of them may be link-scoped.
  if (ipv6_link_scoped(spec.dst6) || !spec.connect) out->dest.v6.sin6_scope_id = ifindex;
  out->dest_len = sizeof(sockaddr_in6);
  return finish_egress_socket(fd, out, format_ipv6(spec.dst6), spec.connect);
}

}  // namespace mcr
