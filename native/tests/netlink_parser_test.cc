// Tests for mcr::parse_route_messages on hand-built rtnetlink messages: new,
// changed and removed links (name, flags), IPv4 addresses added and removed
// (IFA_LOCAL preferred over IFA_ADDRESS, label), IPv6 addresses added and
// removed (tentative or DAD-failed ones reported as removed, IFA_FLAGS read
// over ifa_flags, a short address attribute malformed), other families ignored,
// several messages in one buffer, NLMSG_DONE / NLMSG_ERROR / NLM_F_DUMP_INTR,
// and truncation at every length: the parser never reads past the buffer
// (each parse runs on an exact-size heap copy) and counts what did not fit.
#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cstring>
#include <string>
#include <vector>

#include "core/netlink_parser.h"
#include "tests/frame_builder.h"
#include "tests/netlink_message.h"
#include "tests/test_harness.h"

namespace {

using mcr::InterfaceEvent;
using mcr::InterfaceEventKind;
using mcr::NetlinkParse;
using mcrtest::ipv4;
using mcrtest::NetlinkMessage;
using mcrtest::concat;

std::vector<uint8_t> link(uint16_t type, int index, unsigned flags, const std::string& name, uint8_t family = AF_UNSPEC) {
  ifinfomsg ifi{};
  ifi.ifi_family = family;
  ifi.ifi_index = index;
  ifi.ifi_flags = flags;
  NetlinkMessage m(type);
  m.put(&ifi, sizeof(ifi)).pad();
  if (!name.empty()) m.attr(IFLA_IFNAME, name);
  const uint32_t mtu = 1500;
  m.attr(IFLA_MTU, &mtu, sizeof(mtu));
  return m.done();
}

std::vector<uint8_t> address(uint16_t type, uint8_t family, uint32_t index, uint32_t local_host, uint32_t peer_host,
                             const std::string& label) {
  ifaddrmsg ifa{};
  ifa.ifa_family = family;
  ifa.ifa_prefixlen = 24;
  ifa.ifa_index = index;
  NetlinkMessage m(type);
  m.put(&ifa, sizeof(ifa)).pad();
  const uint32_t peer = htonl(peer_host);
  m.attr(IFA_ADDRESS, &peer, sizeof(peer));
  if (local_host != 0) {
    const uint32_t local = htonl(local_host);
    m.attr(IFA_LOCAL, &local, sizeof(local));
  }
  if (!label.empty()) m.attr(IFA_LABEL, label);
  return m.done();
}

struct Parsed {
  NetlinkParse result;
  std::vector<InterfaceEvent> events;
};

// Parses the first `len` bytes from an exact-size heap copy.
Parsed parse(const std::vector<uint8_t>& buf, size_t len) {
  Parsed p;
  p.result = mcrtest::parse_exact(buf, len, [&](const uint8_t* d, size_t n) { return mcr::parse_route_messages(d, n, &p.events); });
  return p;
}

Parsed parse(const std::vector<uint8_t>& buf) { return parse(buf, buf.size()); }

}  // namespace

TEST(netlink_new_link_gives_name_index_and_flags) {
  const Parsed p = parse(link(RTM_NEWLINK, 7, IFF_UP | IFF_RUNNING, "in0"));
  CHECK_EQ(p.result.messages, 1u);
  CHECK_EQ(p.result.malformed, 0u);
  REQUIRE(p.events.size() == 1);
  CHECK(p.events[0].kind == InterfaceEventKind::link);
  CHECK_EQ(p.events[0].ifindex, 7u);
  CHECK_EQ(p.events[0].name, std::string("in0"));
  CHECK_EQ(p.events[0].flags & (IFF_UP | IFF_RUNNING), static_cast<uint32_t>(IFF_UP | IFF_RUNNING));
}

TEST(netlink_down_link_has_no_up_flag) {
  const Parsed p = parse(link(RTM_NEWLINK, 3, 0, "out0"));
  REQUIRE(p.events.size() == 1);
  CHECK_EQ(p.events[0].flags & IFF_UP, 0u);
}

TEST(netlink_deleted_link_is_link_removed) {
  const Parsed p = parse(link(RTM_DELLINK, 9, 0, "gone0"));
  REQUIRE(p.events.size() == 1);
  CHECK(p.events[0].kind == InterfaceEventKind::link_removed);
  CHECK_EQ(p.events[0].ifindex, 9u);
  CHECK_EQ(p.events[0].name, std::string("gone0"));
}

TEST(netlink_bridge_port_notifications_are_ignored_not_malformed) {
  // `ip link set v0 nomaster`: the kernel sends an AF_BRIDGE RTM_DELLINK for
  // the port, then the device's own RTM_NEWLINK; v0 never went away.
  const Parsed gone = parse(link(RTM_DELLINK, 4, IFF_UP, "v0", AF_BRIDGE));
  CHECK_EQ(gone.events.size(), 0u);
  CHECK_EQ(gone.result.malformed, 0u);
  CHECK_EQ(gone.result.messages, 1u);
  CHECK_EQ(parse(link(RTM_NEWLINK, 4, IFF_UP, "v0", AF_BRIDGE)).events.size(), 0u);
  const Parsed own = parse(link(RTM_NEWLINK, 4, IFF_UP, "v0"));
  REQUIRE(own.events.size() == 1);
  CHECK(own.events[0].kind == InterfaceEventKind::link);
}

TEST(netlink_new_link_without_name_is_malformed) {
  const Parsed p = parse(link(RTM_NEWLINK, 4, IFF_UP, ""));
  CHECK_EQ(p.events.size(), 0u);
  CHECK_EQ(p.result.malformed, 1u);
}

TEST(netlink_address_prefers_local_over_peer) {
  const Parsed p = parse(address(RTM_NEWADDR, AF_INET, 5, ipv4(10, 0, 0, 1), ipv4(10, 0, 0, 2), "out0"));
  REQUIRE(p.events.size() == 1);
  CHECK(p.events[0].kind == InterfaceEventKind::address_added);
  CHECK_EQ(p.events[0].ifindex, 5u);
  CHECK_EQ(p.events[0].address, htonl(ipv4(10, 0, 0, 1)));
  CHECK_EQ(p.events[0].prefix_len, 24);
  CHECK_EQ(p.events[0].name, std::string("out0"));
}

TEST(netlink_address_without_local_uses_address) {
  const Parsed p = parse(address(RTM_DELADDR, AF_INET, 5, 0, ipv4(192, 168, 1, 9), ""));
  REQUIRE(p.events.size() == 1);
  CHECK(p.events[0].kind == InterfaceEventKind::address_removed);
  CHECK_EQ(p.events[0].address, htonl(ipv4(192, 168, 1, 9)));
}

// An AF_INET6 address message: IFA_ADDRESS only (as the kernel sends for IPv6), ifa_flags and optional IFA_FLAGS.
std::vector<uint8_t> address6(uint16_t type, uint32_t index, const char* text, uint8_t ifa_flags, const uint32_t* attr_flags,
                              size_t addr_len = 16) {
  ifaddrmsg ifa{};
  ifa.ifa_family = AF_INET6;
  ifa.ifa_prefixlen = 64;
  ifa.ifa_flags = ifa_flags;
  ifa.ifa_index = index;
  NetlinkMessage m(type);
  m.put(&ifa, sizeof(ifa)).pad();
  in6_addr a{};
  ::inet_pton(AF_INET6, text, &a);
  m.attr(IFA_ADDRESS, &a, addr_len);
  if (attr_flags != nullptr) m.attr(IFA_FLAGS, attr_flags, sizeof(*attr_flags));
  return m.done();
}

bool is_address6(const InterfaceEvent& e, const char* text) {
  in6_addr a{};
  ::inet_pton(AF_INET6, text, &a);
  return e.family == AF_INET6 && std::memcmp(e.address6, &a, 16) == 0;
}

TEST(netlink_ipv6_addresses_added_and_removed) {
  const Parsed added = parse(address6(RTM_NEWADDR, 5, "2001:db8::1", IFA_F_PERMANENT, nullptr));
  CHECK_EQ(added.events.size(), 1u);
  CHECK(added.events[0].kind == InterfaceEventKind::address_added);
  CHECK(is_address6(added.events[0], "2001:db8::1"));
  CHECK_EQ(added.events[0].ifindex, 5u);
  CHECK_EQ(added.events[0].prefix_len, 64);
  const Parsed removed = parse(address6(RTM_DELADDR, 5, "fe80::1", 0, nullptr));
  CHECK_EQ(removed.events.size(), 1u);
  CHECK(removed.events[0].kind == InterfaceEventKind::address_removed);
  CHECK(is_address6(removed.events[0], "fe80::1"));
  CHECK_EQ(removed.result.malformed, 0u);
}

TEST(netlink_ipv6_tentative_or_dad_failed_is_not_usable) {
  const Parsed tentative = parse(address6(RTM_NEWADDR, 5, "2001:db8::2", IFA_F_TENTATIVE, nullptr));
  CHECK_EQ(tentative.events.size(), 1u);
  CHECK(tentative.events[0].kind == InterfaceEventKind::address_removed);
  const uint32_t dadfailed = IFA_F_DADFAILED | IFA_F_TENTATIVE;
  // IFA_FLAGS wins over the 8-bit field (which holds only the low bits).
  const Parsed failed = parse(address6(RTM_NEWADDR, 5, "2001:db8::2", 0, &dadfailed));
  CHECK_EQ(failed.events.size(), 1u);
  CHECK(failed.events[0].kind == InterfaceEventKind::address_removed);
  const uint32_t done = IFA_F_PERMANENT;
  const Parsed usable = parse(address6(RTM_NEWADDR, 5, "2001:db8::2", IFA_F_TENTATIVE, &done));
  CHECK_EQ(usable.events.size(), 1u);
  CHECK(usable.events[0].kind == InterfaceEventKind::address_added);
}

TEST(netlink_ipv6_short_address_is_malformed) {
  const Parsed p = parse(address6(RTM_NEWADDR, 5, "2001:db8::3", 0, nullptr, 4));
  CHECK_EQ(p.events.size(), 0u);
  CHECK_EQ(p.result.malformed, 1u);
}

TEST(netlink_other_families_are_ignored_not_malformed) {
  const Parsed p = parse(address(RTM_NEWADDR, AF_PACKET, 5, ipv4(1, 2, 3, 4), ipv4(1, 2, 3, 4), ""));
  CHECK_EQ(p.events.size(), 0u);
  CHECK_EQ(p.result.malformed, 0u);
  CHECK_EQ(p.result.messages, 1u);
}

TEST(netlink_several_messages_and_done_in_one_buffer) {
  NetlinkMessage done(NLMSG_DONE, NLM_F_MULTI, 42);
  const int zero = 0;
  done.put(&zero, sizeof(zero));
  const std::vector<uint8_t> buf = concat({link(RTM_NEWLINK, 1, IFF_UP, "lo"), link(RTM_NEWLINK, 2, IFF_UP, "in0"),
                                           address(RTM_NEWADDR, AF_INET, 2, ipv4(10, 99, 0, 2), ipv4(10, 99, 0, 2), "in0"),
                                           done.done()});
  const Parsed p = parse(buf);
  CHECK_EQ(p.result.messages, 4u);
  CHECK_EQ(p.events.size(), 3u);
  CHECK(p.result.done);
  CHECK_EQ(p.result.done_seq, 42u);
  CHECK(!p.result.interrupted);
}

TEST(netlink_dump_interrupted_flag_is_reported) {
  std::vector<uint8_t> m = link(RTM_NEWLINK, 2, IFF_UP, "in0");
  nlmsghdr h;
  std::memcpy(&h, m.data(), sizeof(h));
  h.nlmsg_flags |= NLM_F_DUMP_INTR;
  std::memcpy(m.data(), &h, sizeof(h));
  CHECK(parse(m).result.interrupted);
}

TEST(netlink_error_reports_errno_and_ack_does_not) {
  NetlinkMessage err(NLMSG_ERROR, 0, 7);
  nlmsgerr e{};
  e.error = -EBUSY;
  err.put(&e, sizeof(e));
  Parsed p = parse(err.done());
  CHECK_EQ(p.result.error, -EBUSY);
  CHECK_EQ(p.result.error_seq, 7u);
  NetlinkMessage ack(NLMSG_ERROR, 0, 8);
  nlmsgerr a{};
  ack.put(&a, sizeof(a));
  p = parse(ack.done());
  CHECK_EQ(p.result.error, 0);
}

TEST(netlink_lying_attribute_length_is_malformed) {
  std::vector<uint8_t> m = link(RTM_NEWLINK, 2, IFF_UP, "in0");
  // The first attribute (IFLA_IFNAME) claims more bytes than the message has.
  const size_t attr = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(ifinfomsg));
  const uint16_t huge = 4000;
  std::memcpy(m.data() + attr, &huge, sizeof(huge));
  const Parsed p = parse(m);
  CHECK_EQ(p.events.size(), 0u);
  CHECK_EQ(p.result.malformed, 1u);
}

TEST(netlink_unterminated_name_stays_inside_attribute) {
  ifinfomsg ifi{};
  ifi.ifi_index = 3;
  NetlinkMessage m(RTM_NEWLINK);
  m.put(&ifi, sizeof(ifi)).pad();
  m.attr(IFLA_IFNAME, "abcd", 4);  // no NUL
  const Parsed p = parse(m.done());
  REQUIRE(p.events.size() == 1);
  CHECK_EQ(p.events[0].name, std::string("abcd"));
}

TEST(netlink_truncation_at_every_length_never_overreads) {
  const std::vector<uint8_t> buf = concat({link(RTM_NEWLINK, 2, IFF_UP, "in0"),
                                           address(RTM_NEWADDR, AF_INET, 2, ipv4(10, 0, 0, 1), ipv4(10, 0, 0, 1), "in0")});
  const size_t first = link(RTM_NEWLINK, 2, IFF_UP, "in0").size();
  for (size_t len = 0; len < buf.size(); ++len) {
    const Parsed p = parse(buf, len);
    // Whole messages before the cut parse; the cut one is never an event.
    CHECK_EQ(p.events.size(), len >= first ? 1u : 0u);
    if (len != 0 && len != first) CHECK_EQ(p.result.malformed, 1u);
  }
  CHECK_EQ(parse(buf).events.size(), 2u);
}
