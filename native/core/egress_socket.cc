// Egress socket set-up. The socket stays blocking on purpose: io_uring then
// waits for send-buffer space (poll-armed retry) instead of failing with
// EAGAIN, and the loop's in-flight cap bounds how much can wait. A broadcast
// destination (255.255.255.255, or the broadcast address of one of the
// output interface's subnets) gets SO_BROADCAST, without which connect()
// and every send fail with EACCES (socket(7), ip(7)).
#include "core/egress_socket.h"
#include "core/packet_socket.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace mcr {
namespace {

bool is_multicast(uint32_t addr_be) { return (ntohl(addr_be) & 0xf0000000u) == 0xe0000000u; }

// connect() fails at once when no route exists yet; the output then sends
// with an explicit destination so a route added later just starts working.
bool is_route_error(int err) { return err == ENETUNREACH || err == EHOSTUNREACH || err == ENETDOWN; }

uint32_t v4(const sockaddr* sa) { return reinterpret_cast<const sockaddr_in*>(sa)->sin_addr.s_addr; }

// An address of `ifname` in getifaddrs(3): its own name, or a label of it
// ("eth0:1", which glibc gives as ifa_name for a labelled address).
bool names_interface(const char* name, const std::string& ifname) {
  return std::strncmp(name, ifname.c_str(), ifname.size()) == 0 &&
         (name[ifname.size()] == '\0' || name[ifname.size()] == ':');
}

// The interface's MAC, kept on the output for the loop's own-frame check.
// Only an Ethernet address (ARPHRD_ETHER: Ethernet, veth, VLAN, bridge,
// macvlan), and never all zeros: a tunnel (ARPHRD_NONE) puts no link-layer
// source on its frames, so there is nothing to recognise. A failed ioctl
// leaves the check off for this output rather than failing the rule.
void read_ethernet_address(int fd, ifreq* ifr, EgressSocket* out) {
  out->has_mac = false;
  if (::ioctl(fd, SIOCGIFHWADDR, ifr) != 0 || ifr->ifr_hwaddr.sa_family != ARPHRD_ETHER) return;
  std::memcpy(out->mac, ifr->ifr_hwaddr.sa_data, sizeof(out->mac));
  for (uint8_t b : out->mac) out->has_mac = out->has_mac || b != 0;
}

}  // namespace

std::string format_ipv4(uint32_t addr_be) {
  char text[INET_ADDRSTRLEN] = {0};
  in_addr a{addr_be};
  ::inet_ntop(AF_INET, &a, text, sizeof(text));
  return text;
}

SysError AddressSnapshot::take() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return sys_error(errno, "getifaddrs", "IPv4 addresses");
  entries_.clear();
  for (ifaddrs* it = list; it != nullptr; it = it->ifa_next) {
    if (it->ifa_addr == nullptr || it->ifa_addr->sa_family != AF_INET) continue;
    Entry e;
    e.name = it->ifa_name;
    e.addr = v4(it->ifa_addr);
    if (it->ifa_netmask != nullptr && it->ifa_netmask->sa_family == AF_INET) e.mask = ntohl(v4(it->ifa_netmask));
    // ifa_broadaddr is the broadcast address only on an IFF_BROADCAST link (else the peer).
    if ((it->ifa_flags & IFF_BROADCAST) != 0 && it->ifa_broadaddr != nullptr && it->ifa_broadaddr->sa_family == AF_INET) {
      e.broadcast = v4(it->ifa_broadaddr);
    }
    entries_.push_back(std::move(e));
  }
  ::freeifaddrs(list);
  return {};
}

InterfaceScan AddressSnapshot::scan(const std::string& ifname, uint32_t dst) const {
  InterfaceScan out;
  for (const Entry& e : entries_) {
    if (!names_interface(e.name.c_str(), ifname)) continue;
    if (!out.has_address && ifname == e.name) {
      out.has_address = true;
      out.first = e.addr;
    }
    // The address's own broadcast (`ip addr add ... brd B`), when it has one.
    if (e.broadcast != 0 && e.broadcast == dst && dst != 0) out.broadcast = true;
    // The subnet's all-ones host: the kernel adds a broadcast route for it
    // for every prefix shorter than /31 whether or not `brd` was given
    // (fib_add_ifaddr), so connect() calls it broadcast too. /31 and /32
    // have no broadcast address (RFC 3021).
    if (e.mask != 0 && e.mask != 0xffffffffu && e.mask != 0xfffffffeu && (ntohl(e.addr) | ~e.mask) == ntohl(dst)) out.broadcast = true;
  }
  return out;
}

SysError interface_ipv4(const std::string& ifname, uint32_t* addr) {
  AddressSnapshot snapshot;
  SysError e = snapshot.take();
  if (e.failed()) return e;
  const InterfaceScan scan = snapshot.scan(ifname, 0);
  if (!scan.has_address) return sys_error(EADDRNOTAVAIL, "getifaddrs", "interface " + ifname + " has no IPv4 address");
  *addr = scan.first;
  return {};
}

SysError open_egress_socket(const EgressSpec& spec, EgressSocket* out, const AddressSnapshot* addresses) {
  // The socket first, and the interface's index asked through it: glibc's
  // if_nametoindex opens a socket of its own, and when the descriptor table
  // is full it fails with an errno that says nothing of that (ENOENT here),
  // which read as a missing interface would be tolerated (mcrd retries on
  // the next interface change) and the rule would count ENODEV errors for
  // ever instead of being refused with EMFILE.
  const bool v6 = spec.family == 6;
  const int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return sys_error(errno, "socket", "egress to " + (v6 ? format_ipv6(spec.dst6) : format_ipv4(spec.dst_addr)));
  auto fail = [fd](const char* call, std::string what) {
    SysError e = sys_error(errno, call, std::move(what));
    ::close(fd);
    return e;
  };
  auto refuse = [fd](int err, const char* call, std::string what) {
    ::close(fd);
    return sys_error(err, call, std::move(what));
  };
  unsigned ifindex = 0;
  if (SysError e = interface_index_through(fd, spec.interface, &ifindex); e.failed()) {
    ::close(fd);
    return e;
  }
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, spec.interface.c_str(), spec.interface.size());  // length checked by the lookup
  read_ethernet_address(fd, &ifr, out);
  if (v6) return open_egress_socket6(spec, fd, ifindex, out);
  AddressSnapshot fresh;
  if (addresses == nullptr) {
    SysError taken = fresh.take();
    if (taken.failed()) {
      ::close(fd);
      return taken;
    }
    addresses = &fresh;
  }
  const InterfaceScan scan = addresses->scan(spec.interface, spec.dst_addr);
  uint32_t src = spec.src_addr;
  if (src == 0) {
    if (!scan.has_address) {
      return refuse(EADDRNOTAVAIL, "getifaddrs", "interface " + spec.interface + " has no IPv4 address");
    }
    src = scan.first;
  }

  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_addr.s_addr = src;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0)
    return fail("bind", format_ipv4(src) + " for " + spec.interface);
  // No SO_BINDTODEVICE on purpose: a device-bound socket never sees a routing
  // error (the kernel then assumes every destination is on-link, see
  // ip_route_output_key_hash_rcu), so an unreachable unicast output would
  // fail silently in ARP instead of being counted. Multicast leaves through
  // IP_MULTICAST_IF; unicast follows the routing table from the bound source.
  ip_mreqn mif{};
  mif.imr_address.s_addr = src;
  mif.imr_ifindex = static_cast<int>(ifindex);
  if (::setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &mif, sizeof(mif)) != 0)
    return fail("setsockopt", "IP_MULTICAST_IF " + spec.interface);
  const bool multicast = is_multicast(spec.dst_addr);
  const int ttl = spec.ttl >= 0 ? spec.ttl : (multicast ? kDefaultMulticastTtl : kDefaultUnicastTtl);
  if (::setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl)) != 0)
    return fail("setsockopt", "IP_MULTICAST_TTL");
  if (ttl > 0 && ::setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl)) != 0) return fail("setsockopt", "IP_TTL");
  const int off = 0;
  if (::setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &off, sizeof(off)) != 0)
    return fail("setsockopt", "IP_MULTICAST_LOOP");
  // Without IP_RECVERR, UDP hides a full device queue: udp_send_skb turns
  // the qdisc's drop (ENOBUFS) into success and only SndbufErrors counts it.
  // With it the send completes with -ENOBUFS and the output counts the drop.
  const int on = 1;
  if (::setsockopt(fd, IPPROTO_IP, IP_RECVERR, &on, sizeof(on)) != 0) return fail("setsockopt", "IP_RECVERR");
  // A route of type broadcast needs SO_BROADCAST, or connect() and sendmsg()
  // fail with EACCES (socket(7)). Only for the limited broadcast and the
  // output interface's own broadcast addresses: those leave through it
  // (the kernel picks the device of the bound source for 255.255.255.255).
  if (spec.dst_addr == INADDR_BROADCAST || scan.broadcast) {
    if (::setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &on, sizeof(on)) != 0) return fail("setsockopt", "SO_BROADCAST");
  }

  out->dest = InetAddress{};
  out->dest.v4.sin_family = AF_INET;
  out->dest.v4.sin_addr.s_addr = spec.dst_addr;
  out->dest.v4.sin_port = htons(spec.dst_port);
  out->dest_len = sizeof(sockaddr_in);
  return finish_egress_socket(fd, out, format_ipv4(spec.dst_addr), spec.connect);
}

SysError finish_egress_socket(int fd, EgressSocket* out, const std::string& dest_text, bool connect) {
  // SO_SNDBUFFORCE passes net.core.wmem_max with CAP_NET_ADMIN; without it
  // fall back to the capped SO_SNDBUF rather than failing the rule.
  int sndbuf = kEgressSendBuffer;
  if (::setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) != 0)
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
  // Nothing is ever read from an output socket, and what the kernel queues
  // on it stays: the ICMP errors IP_RECVERR keeps (a unicast receiver's
  // port unreachable, one per datagram), a datagram someone sends to its
  // port. Each socket would pin up to net.core.rmem_default (~208 KiB) of
  // kernel memory for as long as its rule lives; the smallest receive
  // buffer the kernel allows (0 is raised to SOCK_MIN_RCVBUF, socket(7))
  // bounds that. Sends are not affected: their errors come back with them.
  int rcvbuf = 0;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  out->connected = connect;
  if (connect && ::connect(fd, &out->dest.sa, out->dest_len) != 0) {
    if (!is_route_error(errno)) {
      SysError e = sys_error(errno, "connect", dest_text);
      ::close(fd);
      return e;
    }
    out->connected = false;
  }
  out->fd = fd;
  return {};
}

}  // namespace mcr
