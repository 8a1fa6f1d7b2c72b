// Egress sockets: one UDP socket per output, bound to the output interface's
// IPv4 address (or the output's explicit source), with that interface as the
// multicast interface, a TTL, multicast loopback off, a burst-sized send
// buffer, and SO_BROADCAST when the destination is a broadcast address
// there (255.255.255.255 or one of its subnets' broadcast addresses).
// IPv6 outputs (egress_socket6.cc) get the IPv6 forms of the same options.
#pragma once
#include <netinet/in.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/sys_error.h"

namespace mcr {

// Default TTLs, documented in docs/reference.md: multicast stays within a few
// routed hops unless raised; unicast uses the usual host default.
constexpr int kDefaultMulticastTtl = 16;
constexpr int kDefaultUnicastTtl = 64;
constexpr int kEgressSendBuffer = 4 * 1024 * 1024;

// A UDP destination of either family, as sendmsg(2) and connect(2) take it.
union InetAddress {
  sockaddr sa;
  sockaddr_in v4;
  sockaddr_in6 v6;
};

struct EgressSpec {
  uint8_t family = 4;          // of the destination: 4 uses dst_addr/src_addr, 6 dst6/src6
  uint32_t dst_addr = 0;       // network byte order
  uint16_t dst_port = 0;       // host byte order
  std::string interface;
  int ttl = -1;                // -1: default for the destination kind (the IPv6 hop limit alike)
  uint32_t src_addr = 0;       // network byte order; 0 = the interface's address
  in6_addr dst6{};
  in6_addr src6{};             // all zero: the kernel's choice on the interface (RFC 6724)
  // false: never connect; every send carries its own address (an output
  // that rewrites the group or port per datagram, rule_table.h).
  bool connect = true;
};

struct EgressSocket {
  int fd = -1;
  InetAddress dest{};
  socklen_t dest_len = sizeof(sockaddr_in);
  bool connected = false;      // false: the route was missing at open time
  // The output interface's Ethernet address (SIOCGIFHWADDR) when it has
  // one: the source address of every frame MCR sends out of it, by which
  // the loop recognises its own frames coming back in (frame_forwarder.cc).
  uint8_t mac[6] = {};
  bool has_mac = false;
};

// What an egress socket needs of its output interface: the first IPv4
// address under its own name (to bind to) and whether the destination is a
// broadcast address of one of its addresses (labelled ones included).
struct InterfaceScan {
  bool has_address = false;
  uint32_t first = 0;       // network byte order
  bool broadcast = false;   // the destination is the broadcast address of one of its subnets
};

// The host's IPv4 addresses from one getifaddrs(3) walk (a netlink dump),
// so a rule sync that opens thousands of egress sockets reads them once,
// not once per output.
class AddressSnapshot {
 public:
  SysError take();
  InterfaceScan scan(const std::string& ifname, uint32_t dst) const;

 private:
  struct Entry {
    std::string name;
    uint32_t addr = 0;        // network byte order
    uint32_t mask = 0;        // host byte order; 0 when none
    uint32_t broadcast = 0;   // the address's own broadcast (IFF_BROADCAST links), network byte order; 0 when none
  };
  std::vector<Entry> entries_;
};

// Opens and configures the socket. On failure returns the error and leaves
// nothing open. `addresses`: a snapshot to read the interface's addresses
// from (a sync takes one for all its outputs); null takes a fresh one.
SysError open_egress_socket(const EgressSpec& spec, EgressSocket* out, const AddressSnapshot* addresses = nullptr);

// The IPv6 half of open_egress_socket (egress_socket6.cc): `fd` is a fresh
// AF_INET6 datagram socket it takes over, `ifindex` the output interface's.
SysError open_egress_socket6(const EgressSpec& spec, int fd, unsigned ifindex, EgressSocket* out);

// The common end of both families (egress_socket.cc): the send buffer, then
// connect() to out->dest (already filled), tolerating a missing route (the
// output then sends with sendto and counts the route error per datagram);
// on success out->fd takes `fd`, on failure `fd` is closed. `connect`
// false (EgressSpec::connect) leaves it unconnected on purpose.
SysError finish_egress_socket(int fd, EgressSocket* out, const std::string& dest_text, bool connect);

// fe80::/10, or multicast of interface- or link-local scope (RFC 4291 2.7):
// only meaningful with the interface as sin6_scope_id.
bool ipv6_link_scoped(const in6_addr& a);

std::string format_ipv6(const in6_addr& a);

// First IPv4 address of an interface (network byte order), for binding.
SysError interface_ipv4(const std::string& ifname, uint32_t* addr);

std::string format_ipv4(uint32_t addr_be);

}  // namespace mcr
