// Egress sockets: one UDP socket per output, bound to the output interface's
// IPv4 address (or the output's explicit source), with that interface as the
// multicast interface, a TTL, multicast loopback off, a burst-sized send
// buffer, and SO_BROADCAST when the destination is a broadcast address
// there (255.255.255.255 or one of its subnets' broadcast addresses).
#pragma once
#include <netinet/in.h>

#include <cstdint>
#include <string>

#include "core/sys_error.h"

namespace mcr {

// Default TTLs, documented in docs/reference.md: multicast stays within a few
// routed hops unless raised; unicast uses the usual host default.
constexpr int kDefaultMulticastTtl = 16;
constexpr int kDefaultUnicastTtl = 64;
constexpr int kEgressSendBuffer = 4 * 1024 * 1024;

struct EgressSpec {
  uint32_t dst_addr = 0;       // network byte order
  uint16_t dst_port = 0;       // host byte order
  std::string interface;
  int ttl = -1;                // -1: default for the destination kind
  uint32_t src_addr = 0;       // network byte order; 0 = the interface's address
};

struct EgressSocket {
  int fd = -1;
  sockaddr_in dest{};
  bool connected = false;      // false: the route was missing at open time
};

// Opens and configures the socket. On failure returns the error and leaves
// nothing open.
SysError open_egress_socket(const EgressSpec& spec, EgressSocket* out);

// First IPv4 address of an interface (network byte order), for binding.
SysError interface_ipv4(const std::string& ifname, uint32_t* addr);

std::string format_ipv4(uint32_t addr_be);

}  // namespace mcr
