// AF_PACKET set-up. The socket is created with protocol 0 so it sees nothing
// until it is fully configured and bound to its interface; only then does it
// start capturing (packet(7)). Opening and activation (bind, fan-out) are
// separate steps so mcrd can open a worker's socket with its capabilities and
// the worker activate it once it forwards.
#include "core/packet_socket.h"

#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace mcr {

SysError open_packet_socket(const PacketSocketOptions& opts, int* fd_out) {
  // The interface must exist now, deferred or not: a worker spawned for a
  // missing interface would only fail later, at activation.
  unsigned ifindex = 0;
  if (SysError e = interface_index(opts.interface, &ifindex); e.failed()) return e;
  const int fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd < 0) return sys_error(errno, "socket", "AF_PACKET on " + opts.interface);
  auto fail = [fd](SysError e) {
    ::close(fd);
    return e;
  };
  // Frames this host sends (our own egress on the same interface) must not
  // come back in as input. PACKET_IGNORE_OUTGOING (Linux 4.20) skips them
  // before the kernel even clones the skb, cheaper than a BPF filter. It
  // covers a socket outside a fan-out group only; activate_packet_socket
  // does the same for a group's members.
  const int one = 1;
  if (::setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) != 0)
    return fail(sys_error(errno, "setsockopt", "PACKET_IGNORE_OUTGOING"));
  // Set here, not at activation: SO_RCVBUFFORCE needs CAP_NET_ADMIN, which
  // a worker has dropped by the time it activates its socket.
  int rcvbuf = opts.receive_buffer;
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) != 0)
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  if (!opts.deferred) {
    if (SysError e = activate_packet_socket(fd, ifindex, opts.interface, opts.fanout_group); e.failed()) return fail(e);
  }
  *fd_out = fd;
  return {};
}

SysError interface_index_through(int fd, const std::string& ifname, unsigned* ifindex) {
  *ifindex = 0;
  if (ifname.empty() || ifname.size() >= IFNAMSIZ) return sys_error(ENODEV, "if_nametoindex", ifname);
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, ifname.c_str(), ifname.size());
  if (::ioctl(fd, SIOCGIFINDEX, &ifr) != 0) return sys_error(errno == ENXIO ? ENODEV : errno, "if_nametoindex", ifname);
  *ifindex = static_cast<unsigned>(ifr.ifr_ifindex);
  return {};
}

SysError interface_index(const std::string& ifname, unsigned* ifindex) {
  // Asked through a socket of our own, not glibc's if_nametoindex: that one
  // opens a socket too, and when the descriptor table is full it fails with
  // ENOENT, which reads as a missing interface.
  *ifindex = 0;
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return sys_error(errno, "socket", "index of interface " + ifname);
  const SysError e = interface_index_through(fd, ifname, ifindex);
  ::close(fd);
  return e;
}

namespace {

// PACKET_FANOUT_FLAG_IGNORE_OUTGOING (linux/if_packet.h since 6.9; Debian
// 12's headers predate it).
constexpr int kFanoutFlagIgnoreOutgoing = 0x4000;

// Classic BPF: the frame's packet type (SKF_AD_PKTTYPE) is PACKET_OUTGOING
// -> keep 0 bytes (drop); otherwise keep the whole frame.
sock_filter drop_outgoing_insns[] = {
    {BPF_LD | BPF_B | BPF_ABS, 0, 0, static_cast<uint32_t>(SKF_AD_OFF + SKF_AD_PKTTYPE)},
    {BPF_JMP | BPF_JEQ | BPF_K, 0, 1, PACKET_OUTGOING},
    {BPF_RET | BPF_K, 0, 0, 0},
    {BPF_RET | BPF_K, 0, 0, 0xffffffffU},
};
const sock_fprog kDropOutgoing{4, drop_outgoing_insns};

}  // namespace

SysError activate_packet_socket(int fd, unsigned ifindex, const std::string& ifname, uint16_t fanout_group) {
  // Between bind and PACKET_FANOUT the socket would see every frame of the
  // interface, and a running loop would forward the ones the group gives to
  // the other workers a second time: a drop-everything filter covers that
  // gap (a classic filter needs no capability) and is removed once the
  // socket is in its group.
  sock_filter drop_all{BPF_RET | BPF_K, 0, 0, 0};
  const sock_fprog prog{1, &drop_all};
  const bool gated = fanout_group != 0;
  if (gated && ::setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) != 0)
    return sys_error(errno, "setsockopt", "SO_ATTACH_FILTER on " + ifname);
  // A failed step leaves no filter behind: the socket must not end up
  // bound, in its group and silently receiving nothing.
  const int unused = 0;
  auto failed = [&](const char* call, std::string what) {
    SysError e = sys_error(errno, call, std::move(what));
    if (gated) ::setsockopt(fd, SOL_SOCKET, SO_DETACH_FILTER, &unused, sizeof(unused));
    return e;
  };
  sockaddr_ll addr{};
  addr.sll_family = AF_PACKET;
  addr.sll_protocol = htons(ETH_P_ALL);
  addr.sll_ifindex = static_cast<int>(ifindex);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return failed("bind", ifname);
  if (gated) {
    // After bind: the kernel refuses PACKET_FANOUT on a socket not yet bound
    // to a protocol. Hash mode keeps a flow (addresses and ports) on one
    // socket (one worker), so its order holds.
    //
    // In a fan-out group the kernel taps the interface with the group's
    // hook, not the socket's, so PACKET_IGNORE_OUTGOING (set at open) has
    // no effect there: our own sends out of this interface (an interface
    // that is one rule's input and another's output, as in an mDNS
    // reflector) would come back as input and match the other direction's
    // rule, a loop. The group's own flag (Linux 6.9) skips them where the
    // socket option would; an older kernel refuses the unknown flag with
    // EINVAL, and then a classic filter drops them instead, replacing the
    // drop-everything one in one step.
    const int arg = fanout_group | ((PACKET_FANOUT_HASH | kFanoutFlagIgnoreOutgoing) << 16);
    if (::setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof(arg)) == 0) {
      if (::setsockopt(fd, SOL_SOCKET, SO_DETACH_FILTER, &unused, sizeof(unused)) != 0)
        return sys_error(errno, "setsockopt", "SO_DETACH_FILTER on " + ifname);
    } else {
      if (errno != EINVAL) return failed("setsockopt", "PACKET_FANOUT on " + ifname);
      const int plain = fanout_group | (PACKET_FANOUT_HASH << 16);
      if (::setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &plain, sizeof(plain)) != 0)
        return failed("setsockopt", "PACKET_FANOUT on " + ifname);
      if (::setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &kDropOutgoing, sizeof(kDropOutgoing)) != 0)
        return failed("setsockopt", "SO_ATTACH_FILTER (drop outgoing) on " + ifname);
    }
  }
  // Drop what the kernel counted while the socket was being set up, so the
  // first stats read starts from zero.
  tpacket_stats discard{};
  socklen_t len = sizeof(discard);
  ::getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &discard, &len);
  return {};
}

SysError interface_mtu(const std::string& ifname, int* mtu) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return sys_error(errno, "socket", "for SIOCGIFMTU");
  ifreq req{};
  std::strncpy(req.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  const int rc = ::ioctl(fd, SIOCGIFMTU, &req);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return sys_error(err, "ioctl", "SIOCGIFMTU " + ifname);
  *mtu = req.ifr_mtu;
  return {};
}

SysError join_group(const std::string& ifname, uint32_t group_be, int* fd_out) {
  unsigned ifindex = 0;
  if (SysError e = interface_index(ifname, &ifindex); e.failed()) return e;
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return sys_error(errno, "socket", "membership on " + ifname);
  ip_mreqn mreq{};
  mreq.imr_multiaddr.s_addr = group_be;
  mreq.imr_ifindex = static_cast<int>(ifindex);
  if (::setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof(mreq)) != 0) {
    SysError e = sys_error(errno, "setsockopt", "IP_ADD_MEMBERSHIP on " + ifname);
    ::close(fd);
    return e;
  }
  *fd_out = fd;
  return {};
}

SysError join_group6(const std::string& ifname, const in6_addr& group, int* fd_out) {
  unsigned ifindex = 0;
  if (SysError e = interface_index(ifname, &ifindex); e.failed()) return e;
  const int fd = ::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return sys_error(errno, "socket", "IPv6 membership on " + ifname);
  ipv6_mreq mreq{};
  mreq.ipv6mr_multiaddr = group;
  mreq.ipv6mr_interface = ifindex;
  if (::setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &mreq, sizeof(mreq)) != 0) {
    char text[INET6_ADDRSTRLEN] = {0};
    ::inet_ntop(AF_INET6, &group, text, sizeof(text));
    SysError e = sys_error(errno, "setsockopt", std::string("IPV6_JOIN_GROUP ") + text + " on " + ifname);
    ::close(fd);
    return e;
  }
  *fd_out = fd;
  return {};
}

SysError open_membership_socket(int family, int* fd_out) {
  if (family != AF_INET && family != AF_INET6) return sys_error(EAFNOSUPPORT, "socket", "for group memberships");
  const int fd = ::socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return sys_error(errno, "socket", family == AF_INET6 ? "AF_INET6 for group memberships" : "AF_INET for group memberships");
  *fd_out = fd;
  return {};
}

namespace {

std::string address_text(const sockaddr_storage& a) {
  char text[INET6_ADDRSTRLEN] = {0};
  if (a.ss_family == AF_INET6)
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&a)->sin6_addr, text, sizeof(text));
  else
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&a)->sin_addr, text, sizeof(text));
  return text;
}

// The socket's family, so a group of the other family is refused before the
// kernel answers it with a less telling EINVAL or EADDRNOTAVAIL.
int socket_family(int fd) {
  int domain = AF_UNSPEC;
  socklen_t len = sizeof(domain);
  if (::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0) return AF_UNSPEC;
  return domain;
}

}  // namespace

SysError change_membership(int fd, int ifindex, const sockaddr_storage& group, bool join) {
  if (group.ss_family != socket_family(fd))
    return sys_error(EAFNOSUPPORT, "setsockopt", "group " + address_text(group) + " on a socket of the other family");
  if (group.ss_family == AF_INET6) {
    group_req req{};
    req.gr_interface = static_cast<uint32_t>(ifindex);
    std::memcpy(&req.gr_group, &group, sizeof(sockaddr_in6));
    const int opt = join ? MCAST_JOIN_GROUP : MCAST_LEAVE_GROUP;
    if (::setsockopt(fd, IPPROTO_IPV6, opt, &req, sizeof(req)) != 0)
      return sys_error(errno, "setsockopt",
                       std::string(join ? "MCAST_JOIN_GROUP " : "MCAST_LEAVE_GROUP ") + address_text(group) +
                           " on ifindex " + std::to_string(ifindex));
    return {};
  }
  ip_mreqn mreq{};
  mreq.imr_multiaddr = reinterpret_cast<const sockaddr_in*>(&group)->sin_addr;
  mreq.imr_ifindex = ifindex;
  const int opt = join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP;
  if (::setsockopt(fd, IPPROTO_IP, opt, &mreq, sizeof(mreq)) != 0)
    return sys_error(errno, "setsockopt",
                     std::string(join ? "IP_ADD_MEMBERSHIP " : "IP_DROP_MEMBERSHIP ") + address_text(group) +
                         " on ifindex " + std::to_string(ifindex));
  return {};
}

SysError change_source_membership(int fd, int ifindex, const sockaddr_storage& group, const sockaddr_storage& source, bool join) {
  if (group.ss_family != source.ss_family || group.ss_family != socket_family(fd))
    return sys_error(EAFNOSUPPORT, "setsockopt",
                     "source " + address_text(source) + " of group " + address_text(group) + ": families differ");
  // group_source_req rather than ip_mreq_source: it names the interface by
  // index, as ip_mreqn does for the any-source joins, so the interface needs
  // no address; and it is the one form both families take.
  group_source_req req{};
  req.gsr_interface = static_cast<uint32_t>(ifindex);
  const size_t len = group.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  std::memcpy(&req.gsr_group, &group, len);
  std::memcpy(&req.gsr_source, &source, len);
  const int level = group.ss_family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP;
  const int opt = join ? MCAST_JOIN_SOURCE_GROUP : MCAST_LEAVE_SOURCE_GROUP;
  if (::setsockopt(fd, level, opt, &req, sizeof(req)) != 0) {
    const int err = errno;
    return sys_error(err, "setsockopt",
                     std::string(join ? "MCAST_JOIN_SOURCE_GROUP " : "MCAST_LEAVE_SOURCE_GROUP ") + address_text(source) +
                         "," + address_text(group) + " on ifindex " + std::to_string(ifindex));
  }
  return {};
}

bool read_bound_mac(int fd, uint8_t mac[6]) {
  sockaddr_ll sll{};
  socklen_t len = sizeof(sll);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&sll), &len) != 0) return false;
  if (sll.sll_ifindex == 0 || sll.sll_hatype != ARPHRD_ETHER || sll.sll_halen != 6) return false;
  bool nonzero = false;
  for (int i = 0; i < 6; ++i) nonzero = nonzero || sll.sll_addr[i] != 0;
  if (nonzero) std::memcpy(mac, sll.sll_addr, 6);
  return nonzero;
}

SysError read_packet_stats(int fd, uint64_t* packets, uint64_t* drops) {
  tpacket_stats stats{};
  socklen_t len = sizeof(stats);
  if (::getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &stats, &len) != 0)
    return sys_error(errno, "getsockopt", "PACKET_STATISTICS");
  *packets = stats.tp_packets;
  *drops = stats.tp_drops;
  return {};
}

}  // namespace mcr
