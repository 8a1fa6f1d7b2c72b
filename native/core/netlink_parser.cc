// NETLINK_ROUTE parsing of link and address messages; the attribute walk is
// netlink_walk.h's (headers copied out with memcpy: a test's buffer need
// not be aligned, and the copy costs nothing at the rate interfaces change).
#include "core/netlink_parser.h"

#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstring>

#include "core/netlink_walk.h"

namespace mcr {
namespace {

bool parse_link(const nlmsghdr& h, const uint8_t* body, size_t len, std::vector<InterfaceEvent>* out) {
  if (len < sizeof(ifinfomsg)) return false;
  ifinfomsg ifi;
  std::memcpy(&ifi, body, sizeof(ifi));
  // A bridge's port notifications (AF_BRIDGE) say nothing of the device
  // itself: a port leaving its bridge gets an AF_BRIDGE RTM_DELLINK while
  // it lives on, which would read as the interface removed (its addresses
  // forgotten). The device's own changes come as AF_UNSPEC.
  if (ifi.ifi_family != AF_UNSPEC) return true;  // not ours, not malformed
  InterfaceEvent e;
  e.kind = h.nlmsg_type == RTM_DELLINK ? InterfaceEventKind::link_removed : InterfaceEventKind::link;
  e.ifindex = static_cast<uint32_t>(ifi.ifi_index);
  e.flags = ifi.ifi_flags;
  const size_t attrs = nl_align4(sizeof(ifinfomsg));
  const bool ok = for_each_attr(body + attrs, len > attrs ? len - attrs : 0, [&](uint16_t type, const uint8_t* p, size_t n) {
    if (type == IFLA_IFNAME) e.name = attr_string(p, n);
  });
  if (!ok || e.ifindex == 0 || (e.kind == InterfaceEventKind::link && e.name.empty())) return false;
  out->push_back(std::move(e));
  return true;
}

bool parse_address(const nlmsghdr& h, const uint8_t* body, size_t len, std::vector<InterfaceEvent>* out) {
  if (len < sizeof(ifaddrmsg)) return false;
  ifaddrmsg ifa;
  std::memcpy(&ifa, body, sizeof(ifa));
  if (ifa.ifa_family != AF_INET && ifa.ifa_family != AF_INET6) return true;  // not ours, not malformed
  const size_t size = ifa.ifa_family == AF_INET6 ? 16 : 4;
  InterfaceEvent e;
  e.kind = h.nlmsg_type == RTM_DELADDR ? InterfaceEventKind::address_removed : InterfaceEventKind::address_added;
  e.ifindex = ifa.ifa_index;
  e.family = ifa.ifa_family;
  e.prefix_len = ifa.ifa_prefixlen;
  // IFA_FLAGS (32 bits, since Linux 3.14) supersedes the 8-bit ifa_flags when present.
  uint32_t flags = ifa.ifa_flags;
  bool have_local = false, have_address = false;
  uint8_t local[16] = {}, address[16] = {};
  const size_t attrs = nl_align4(sizeof(ifaddrmsg));
  const bool ok = for_each_attr(body + attrs, len > attrs ? len - attrs : 0, [&](uint16_t type, const uint8_t* p, size_t n) {
    if (n < size && (type == IFA_LOCAL || type == IFA_ADDRESS)) return;
    // On point-to-point links IFA_ADDRESS is the peer; IFA_LOCAL is ours.
    if (type == IFA_LOCAL) { std::memcpy(local, p, size); have_local = true; }
    if (type == IFA_ADDRESS) { std::memcpy(address, p, size); have_address = true; }
    if (type == IFA_LABEL) e.name = attr_string(p, n);
    if (type == IFA_FLAGS && n >= 4) std::memcpy(&flags, p, 4);
  });
  if (!ok || e.ifindex == 0 || (!have_local && !have_address)) return false;
  const uint8_t* chosen = have_local ? local : address;
  if (ifa.ifa_family == AF_INET6) {
    std::memcpy(e.address6, chosen, 16);
    if ((flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED)) != 0) e.kind = InterfaceEventKind::address_removed;
  } else {
    std::memcpy(&e.address, chosen, 4);
  }
  out->push_back(std::move(e));
  return true;
}

}  // namespace

NetlinkParse parse_route_messages(const uint8_t* data, size_t len, std::vector<InterfaceEvent>* out) {
  NetlinkParse r;
  const bool framed = for_each_message(data, len, [&](const nlmsghdr& h, const uint8_t* body, size_t body_len) {
    ++r.messages;
    if ((h.nlmsg_flags & NLM_F_DUMP_INTR) != 0) r.interrupted = true;
    bool ok = true;
    switch (h.nlmsg_type) {
      case RTM_NEWLINK:
      case RTM_DELLINK: ok = parse_link(h, body, body_len, out); break;
      case RTM_NEWADDR:
      case RTM_DELADDR: ok = parse_address(h, body, body_len, out); break;
      case NLMSG_DONE:
        r.done = true;
        r.done_seq = h.nlmsg_seq;
        break;
      case NLMSG_ERROR: {
        int err = 0;
        ok = message_error(body, body_len, &err);
        if (ok && err != 0) {
          r.error = err;
          r.error_seq = h.nlmsg_seq;
        }
        break;
      }
      default: break;  // NLMSG_NOOP, NLMSG_OVERRUN and types we did not ask for
    }
    if (!ok) ++r.malformed;
  });
  if (!framed) ++r.malformed;
  return r;
}

}  // namespace mcr
