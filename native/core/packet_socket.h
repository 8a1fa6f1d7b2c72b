// Input side sockets: the AF_PACKET socket a loop receives from (bound to one
// interface, outgoing frames ignored, optional fan-out group), the group
// membership that makes switches and NIC filters deliver the input groups,
// and the kernel's own drop counters for the socket.
#pragma once
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "core/sys_error.h"

namespace mcr {

struct PacketSocketOptions {
  std::string interface;
  uint16_t fanout_group = 0;   // 0 = no PACKET_FANOUT
  int receive_buffer = 32 * 1024 * 1024;
  // Leave the socket unbound and out of any fan-out group: it receives
  // nothing until activate_packet_socket(). mcrd opens its workers' sockets
  // so, and each worker activates its own once it runs with its rules, so
  // the fan-out hash never gives flows to a socket nobody reads yet.
  bool deferred = false;
};

// Opens the socket with SOCK_CLOEXEC (needs CAP_NET_RAW; SO_RCVBUFFORCE
// needs CAP_NET_ADMIN, else the buffer is capped at net.core.rmem_max) and,
// unless deferred, activates it.
SysError open_packet_socket(const PacketSocketOptions& opts, int* fd_out);

// Binds a socket from open_packet_socket(deferred) to `ifname` for every
// protocol and joins fan-out group `fanout_group` (0: none); from here on it
// receives. Needs no capability (bind and PACKET_FANOUT check none), so a
// worker that dropped its privileges can call it. PACKET_RX_RING may have been
// set up before (the kernel re-hooks a ring socket on bind). EINVAL from
// PACKET_FANOUT: the socket was already bound or in a group.
// `ifindex` (from interface_index) is resolved by the caller beforehand: a
// worker activates after its rule sync has opened its egress sockets, when
// the process may have no descriptor left for if_nametoindex's own socket.
SysError activate_packet_socket(int fd, unsigned ifindex, const std::string& ifname, uint16_t fanout_group);

// An interface's index by name (SIOCGIFINDEX), with a true errno: ENODEV
// for no such interface, EMFILE when no descriptor is left for the
// lookup's socket.
SysError interface_index(const std::string& ifname, unsigned* ifindex);
// The same, asked through `fd` (any socket the caller holds): no
// descriptor of its own.
SysError interface_index_through(int fd, const std::string& ifname, unsigned* ifindex);

// Interface facts the loop sizes its buffers from.
SysError interface_mtu(const std::string& ifname, int* mtu);

// A UDP socket that holds an IP_ADD_MEMBERSHIP for `group` on `ifname`
// (IGMP reports, NIC multicast filter). It is never bound to a port, so UDP
// never delivers a datagram to it. Close the fd to leave the group.
SysError join_group(const std::string& ifname, uint32_t group_be, int* fd_out);
// The same for an IPv6 group: an AF_INET6 socket holding IPV6_JOIN_GROUP
// (MLD reports).
SysError join_group6(const std::string& ifname, const in6_addr& group, int* fd_out);

// The supervisor's memberships: plain datagram sockets per input interface
// and address family (AF_INET for IGMP, AF_INET6 for MLD) hold many groups
// each. The interface is named by index (ip_mreqn, group_req,
// group_source_req), so it needs no address.
SysError open_membership_socket(int family, int* fd_out);
// `group` (and `source`) is a sockaddr_in or sockaddr_in6 of the socket's
// family (else EAFNOSUPPORT, before any system call).
// join: IPv4 IP_ADD_MEMBERSHIP, IPv6 MCAST_JOIN_GROUP (MLD any-source);
// leave: IP_DROP_MEMBERSHIP / MCAST_LEAVE_GROUP, which leave the group on the
// socket whatever its mode. ENOBUFS on an IPv4 join means the socket reached
// net.ipv4.igmp_max_memberships (default 20): use another one. IPv6 has no
// per-socket group limit (each membership is charged to net.core.optmem_max:
// ENOMEM when it is spent).
SysError change_membership(int fd, int ifindex, const sockaddr_storage& group, bool join);
// join: MCAST_JOIN_SOURCE_GROUP (IGMPv3 / MLDv2 INCLUDE mode: only `source`
// is received), else MCAST_LEAVE_SOURCE_GROUP; leaving a socket's last source
// of a group leaves the group on it (ip(7), ipv6(7)). The caller must not add
// a source on a socket that holds the group as any-source: the kernel
// accepts it and silently turns that (*,G) membership into INCLUDE {source}
// (net/ipv4/igmp.c ip_mc_source and net/ipv6/mcast.c ip6_mc_source, "allow
// mode switches for empty-set filters"). ENOBUFS on join: the socket holds
// net.ipv4.igmp_max_msf (default 10) / net.ipv6.mld_max_msf (default 64)
// sources of the group already, or igmp_max_memberships groups: use another
// socket.
SysError change_source_membership(int fd, int ifindex, const sockaddr_storage& group, const sockaddr_storage& source, bool join);

// PACKET_STATISTICS since the previous call (the kernel resets on read).
SysError read_packet_stats(int fd, uint64_t* packets, uint64_t* drops);

// The Ethernet address of the interface the packet socket is bound to
// (getsockname(2) on AF_PACKET gives the device's address, packet_getname):
// true and `mac` filled for a bound socket on an Ethernet-like device with
// a non-zero address; false for an unbound socket (mcrd's before
// activation), a device without one (a tunnel), or an error.
bool read_bound_mac(int fd, uint8_t mac[6]);

}  // namespace mcr
