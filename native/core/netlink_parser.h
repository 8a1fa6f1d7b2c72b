// Parser for NETLINK_ROUTE messages about interfaces: links appearing,
// changing or going (RTM_NEWLINK / RTM_DELLINK) and IPv4 and IPv6 addresses
// added or removed (RTM_NEWADDR / RTM_DELADDR, AF_INET and AF_INET6). An IPv6
// address still in duplicate address detection (IFA_F_TENTATIVE) or that
// failed it (IFA_F_DADFAILED) cannot be bound or sent from yet, so it is
// reported as removed; the kernel announces it again (RTM_NEWADDR without
// the flag) once DAD succeeds. Pure code over a byte
// buffer, so it is unit-tested without a socket; every length is checked
// against the buffer (rtnetlink(7), netlink(7)) and a message or attribute
// that does not fit is counted as malformed and skipped, never read past.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mcr {

enum class InterfaceEventKind : uint8_t {
  link,              // the link exists with these flags (new or changed)
  link_removed,      // the link is gone (deleted or moved to another namespace)
  address_added,     // an address was added to the link (or is present, in a dump)
  address_removed,   // an address was removed from the link (or an IPv6 one is not usable: tentative, DAD failed)
  resync,            // events were lost (socket overrun): forget what you knew, a dump follows
  synced,            // the dumps finished: every link and address is known from here on
};

struct InterfaceEvent {
  InterfaceEventKind kind = InterfaceEventKind::link;
  uint32_t ifindex = 0;
  std::string name;            // link events: IFLA_IFNAME; address events: IFA_LABEL (may be empty)
  uint32_t flags = 0;          // link events: ifi_flags (IFF_UP, IFF_RUNNING, ...)
  uint32_t address = 0;        // IPv4 address events: network byte order (IFA_LOCAL, else IFA_ADDRESS)
  uint8_t address6[16] = {};   // IPv6 address events: the address (IFA_LOCAL, else IFA_ADDRESS)
  uint8_t family = 0;          // address events: AF_INET or AF_INET6
  uint8_t prefix_len = 0;      // address events
};

// What one buffer held besides events.
struct NetlinkParse {
  size_t messages = 0;
  size_t malformed = 0;        // messages or attributes that did not fit; skipped
  bool done = false;           // an NLMSG_DONE (end of a dump) was seen
  uint32_t done_seq = 0;       // its sequence number
  bool interrupted = false;    // a dump message carried NLM_F_DUMP_INTR: the dump is inconsistent
  int error = 0;               // negative errno of an NLMSG_ERROR that is not an ack; 0 otherwise
  uint32_t error_seq = 0;
};

// Appends the interface events found in `data` to `out`.
NetlinkParse parse_route_messages(const uint8_t* data, size_t len, std::vector<InterfaceEvent>* out);

}  // namespace mcr
