// Tests for mcr::parse_qdisc_dump and mcr::parse_link_dump on hand-built
// dump replies: each root qdisc's interface, kind and queue counters from
// TCA_STATS2/TCA_STATS_QUEUE, the legacy TCA_STATS when that is all there
// is, children skipped; each link's tx_dropped from IFLA_STATS64, else
// IFLA_STATS, a link without either skipped; NLMSG_DONE (with a failed
// dump's errno) / NLMSG_ERROR / NLM_F_DUMP_INTR, a short stats attribute
// malformed, and truncation at every length: the parsers never read past
// the buffer (each parse runs on an exact-size heap copy).
// read_interface_drops itself is run on real interfaces by
// tests/integration/mcrd-missing-output.test.ts and mcrd-metrics.test.ts.
#include <linux/gen_stats.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstddef>
#include <string>
#include <vector>

#include "core/interface_drops.h"
#include "tests/netlink_message.h"
#include "tests/test_harness.h"

namespace {

using mcr::DumpParse;
using mcr::LinkDrops;
using mcr::RootQdisc;
using mcrtest::NetlinkMessage;
using mcrtest::concat;
using mcrtest::rtattr_bytes;

// An RTM_NEWQDISC of `kind` on `ifindex` under `parent`, with no stats yet.
NetlinkMessage qdisc_message(int ifindex, uint32_t parent, const std::string& kind) {
  tcmsg t{};
  t.tcm_family = AF_UNSPEC;
  t.tcm_ifindex = ifindex;
  t.tcm_parent = parent;
  t.tcm_handle = 0x80010000u;
  NetlinkMessage m(RTM_NEWQDISC);
  m.put(&t, sizeof(t)).pad();
  m.attr(TCA_KIND, kind);
  return m;
}

std::vector<uint8_t> qdisc(int ifindex, uint32_t parent, const std::string& kind, uint32_t drops, uint32_t overlimits,
                           uint32_t qlen) {
  NetlinkMessage m = qdisc_message(ifindex, parent, kind);
  gnet_stats_basic basic{};
  basic.packets = 1000;
  gnet_stats_queue queue{};
  queue.qlen = qlen;
  queue.drops = drops;
  queue.overlimits = overlimits;
  std::vector<uint8_t> nested = rtattr_bytes(TCA_STATS_BASIC, &basic, sizeof(basic));
  const std::vector<uint8_t> q = rtattr_bytes(TCA_STATS_QUEUE, &queue, sizeof(queue));
  nested.insert(nested.end(), q.begin(), q.end());
  m.attr(TCA_STATS2, nested.data(), nested.size());
  return m.done();
}

struct Parsed {
  DumpParse result;
  std::vector<RootQdisc> roots;
};

Parsed parse(const std::vector<uint8_t>& buf, size_t len) {
  Parsed p;
  p.result = mcrtest::parse_exact(buf, len, [&](const uint8_t* d, size_t n) { return mcr::parse_qdisc_dump(d, n, &p.roots); });
  return p;
}

Parsed parse(const std::vector<uint8_t>& buf) { return parse(buf, buf.size()); }

std::vector<uint8_t> done(uint16_t flags = NLM_F_MULTI) { return NetlinkMessage(NLMSG_DONE, flags, 1).done(); }

}  // namespace

TEST(qdisc_root_kind_and_queue_counters) {
  const Parsed p = parse(concat({qdisc(7, TC_H_ROOT, "fq_codel", 1234, 56, 3), done()}));
  CHECK(p.result.done);
  CHECK(!p.result.interrupted);
  CHECK_EQ(p.result.error, 0);
  CHECK_EQ(p.result.malformed, 0u);
  REQUIRE(p.roots.size() == 1u);
  const RootQdisc& q = p.roots[0];
  CHECK_EQ(q.ifindex, 7u);
  CHECK_EQ(q.kind, std::string("fq_codel"));
  CHECK(q.has_stats);
  CHECK_EQ(q.drops, 1234u);
  // Its neighbours in gnet_stats_queue (qlen 3, overlimits 56) are not read as drops.
}

TEST(qdisc_roots_of_every_interface_children_skipped) {
  // mq's child (parent 8001:1) and an ingress qdisc (parent ffff:fff1) are not roots.
  const Parsed p = parse(concat({qdisc(7, 0x80010001u, "fq_codel", 9, 0, 0), qdisc(8, TC_H_ROOT, "tbf", 5, 0, 0),
                                 qdisc(7, TC_H_ROOT, "mq", 42, 0, 0), qdisc(8, TC_H_INGRESS, "ingress", 0, 0, 0)}));
  CHECK(!p.result.done);
  CHECK_EQ(p.result.malformed, 0u);
  REQUIRE(p.roots.size() == 2u);
  CHECK_EQ(p.roots[0].ifindex, 8u);
  CHECK_EQ(p.roots[0].kind, std::string("tbf"));
  CHECK_EQ(p.roots[0].drops, 5u);
  CHECK_EQ(p.roots[1].ifindex, 7u);
  CHECK_EQ(p.roots[1].kind, std::string("mq"));
  CHECK_EQ(p.roots[1].drops, 42u);
}

TEST(qdisc_legacy_tca_stats_when_there_is_no_stats2) {
  NetlinkMessage m = qdisc_message(3, TC_H_ROOT, "pfifo_fast");
  tc_stats s{};
  s.drops = 77;
  s.qlen = 1;
  m.attr(TCA_STATS, &s, sizeof(s));
  const Parsed p = parse(m.done());
  REQUIRE(p.roots.size() == 1u);
  CHECK(p.roots[0].has_stats);
  CHECK_EQ(p.roots[0].drops, 77u);
}

TEST(qdisc_without_stats_is_kept_with_none) {
  NetlinkMessage m = qdisc_message(3, TC_H_ROOT, "noqueue");
  const Parsed p = parse(m.done());
  REQUIRE(p.roots.size() == 1u);
  CHECK(!p.roots[0].has_stats);
  CHECK_EQ(p.roots[0].drops, 0u);
}

TEST(qdisc_error_and_interrupted_dump) {
  NetlinkMessage m(NLMSG_ERROR, 0, 1);
  nlmsgerr e{};
  e.error = -22;  // EINVAL
  m.put(&e, sizeof(e));
  const Parsed p = parse(m.done());
  CHECK(p.roots.empty());
  CHECK_EQ(p.result.error, -22);
  const Parsed intr = parse(done(NLM_F_MULTI | NLM_F_DUMP_INTR));
  CHECK(intr.result.done);
  CHECK(intr.result.interrupted);
}

TEST(qdisc_short_queue_stats_are_malformed) {
  NetlinkMessage m = qdisc_message(7, TC_H_ROOT, "tbf");
  const uint32_t half[2] = {1, 2};  // 8 bytes: a gnet_stats_queue is 20
  const std::vector<uint8_t> nested = rtattr_bytes(TCA_STATS_QUEUE, half, sizeof(half));
  m.attr(TCA_STATS2, nested.data(), nested.size());
  const Parsed p = parse(concat({m.done(), qdisc(8, TC_H_ROOT, "tbf", 5, 0, 0)}));
  CHECK_EQ(p.result.malformed, 1u);
  REQUIRE(p.roots.size() == 1u);  // the next message still parses
  CHECK_EQ(p.roots[0].ifindex, 8u);
}

TEST(qdisc_truncation_at_every_length_never_overreads) {
  const std::vector<uint8_t> buf = qdisc(7, TC_H_ROOT, "fq_codel", 1234, 56, 3);
  for (size_t len = 0; len < buf.size(); ++len) {
    const Parsed p = parse(buf, len);
    CHECK(p.roots.empty());
    if (len != 0) CHECK_EQ(p.result.malformed, 1u);
  }
  CHECK_EQ(parse(buf).roots.size(), 1u);
}

namespace {

std::vector<uint8_t> link_message(int ifindex, const rtnl_link_stats64* s64, const rtnl_link_stats* s32) {
  ifinfomsg ifi{};
  ifi.ifi_index = ifindex;
  NetlinkMessage m(RTM_NEWLINK, NLM_F_MULTI, 2);
  m.put(&ifi, sizeof(ifi)).pad();
  m.attr(IFLA_IFNAME, std::string("eth0"));
  if (s32 != nullptr) m.attr(IFLA_STATS, s32, sizeof(*s32));
  if (s64 != nullptr) m.attr(IFLA_STATS64, s64, sizeof(*s64));
  return m.done();
}

struct Links {
  DumpParse result;
  std::vector<LinkDrops> links;
};

Links parse_links(const std::vector<uint8_t>& buf, size_t len) {
  Links p;
  p.result = mcrtest::parse_exact(buf, len, [&](const uint8_t* d, size_t n) { return mcr::parse_link_dump(d, n, &p.links); });
  return p;
}

}  // namespace

TEST(link_tx_dropped_from_stats64_else_stats) {
  rtnl_link_stats64 s64{};
  s64.tx_dropped = (1ull << 33) + 5;
  rtnl_link_stats s32{};
  s32.tx_dropped = 9;
  const std::vector<uint8_t> buf = concat({link_message(2, &s64, &s32), link_message(3, nullptr, &s32), link_message(4, nullptr, nullptr),
                                           NetlinkMessage(NLMSG_DONE, NLM_F_MULTI, 2).done()});
  const Links p = parse_links(buf, buf.size());
  CHECK(p.result.done);
  CHECK_EQ(p.result.malformed, 0u);
  REQUIRE(p.links.size() == 2u);  // the link without statistics is skipped
  CHECK_EQ(p.links[0].ifindex, 2u);
  CHECK_EQ(p.links[0].tx_dropped, (1ull << 33) + 5);
  CHECK_EQ(p.links[1].ifindex, 3u);
  CHECK_EQ(p.links[1].tx_dropped, 9u);
}

TEST(link_short_stats_malformed_and_truncation_never_overreads) {
  ifinfomsg ifi{};
  ifi.ifi_index = 2;
  NetlinkMessage m(RTM_NEWLINK);
  m.put(&ifi, sizeof(ifi)).pad();
  const uint64_t half[4] = {1, 2, 3, 4};  // cut before tx_dropped
  m.attr(IFLA_STATS64, half, sizeof(half));
  CHECK_EQ(parse_links(m.done(), m.done().size()).result.malformed, 1u);
  rtnl_link_stats64 s64{};
  const std::vector<uint8_t> buf = link_message(2, &s64, nullptr);
  for (size_t len = 0; len < buf.size(); ++len) {
    const Links p = parse_links(buf, len);
    CHECK(p.links.empty());
    if (len != 0) CHECK_EQ(p.result.malformed, 1u);
  }
}

TEST(link_stats_of_an_older_kernel_are_read_up_to_tx_dropped) {
  // Before rx_otherhost_dropped (Linux 5.19) IFLA_STATS64 was 8 bytes shorter; before rx_nohandler (4.6), 16.
  rtnl_link_stats64 s64{};
  s64.tx_dropped = 77;
  ifinfomsg ifi{};
  ifi.ifi_index = 2;
  NetlinkMessage m(RTM_NEWLINK);
  m.put(&ifi, sizeof(ifi)).pad();
  m.attr(IFLA_STATS64, &s64, offsetof(rtnl_link_stats64, tx_dropped) + sizeof(uint64_t));
  const std::vector<uint8_t> buf = m.done();
  const Links p = parse_links(buf, buf.size());
  CHECK_EQ(p.result.malformed, 0u);
  REQUIRE(p.links.size() == 1u);
  CHECK_EQ(p.links[0].tx_dropped, 77u);
}

TEST(dump_done_carries_a_failed_dumps_errno) {
  NetlinkMessage m(NLMSG_DONE, NLM_F_MULTI, 1);
  const int err = -16;  // EBUSY
  m.put(&err, sizeof(err));
  const Parsed p = parse(m.done());
  CHECK(p.result.done);
  CHECK_EQ(p.result.error, -16);
  NetlinkMessage ok(NLMSG_DONE, NLM_F_MULTI, 1);
  const int zero = 0;
  ok.put(&zero, sizeof(zero));
  CHECK_EQ(parse(ok.done()).result.error, 0);
}

namespace {

// A stacked link: name, IFLA_LINK, IFLA_LINKINFO { IFLA_INFO_KIND }, and
// IFLA_LINK_NETNSID when its parent is in another namespace; for the kind
// "bridge_port" (made up here), a port: IFLA_MASTER instead of IFLA_LINK.
std::vector<uint8_t> stacked_message(int ifindex, const std::string& name, const std::string& kind, uint32_t parent, bool other_netns) {
  ifinfomsg ifi{};
  ifi.ifi_index = ifindex;
  NetlinkMessage m(RTM_NEWLINK, NLM_F_MULTI, 2);
  m.put(&ifi, sizeof(ifi)).pad();
  m.attr(IFLA_IFNAME, name);
  if (kind == "bridge_port") {
    m.attr(IFLA_MASTER, &parent, sizeof(parent));  // a port: IFLA_MASTER, no IFLA_LINK
  } else {
    m.attr(IFLA_LINK, &parent, sizeof(parent));
  }
  if (other_netns) {
    const int32_t id = 0;
    m.attr(IFLA_LINK_NETNSID, &id, sizeof(id));
  }
  const std::vector<uint8_t> info = rtattr_bytes(IFLA_INFO_KIND, kind.c_str(), kind.size() + 1);
  m.attr(IFLA_LINKINFO, info.data(), info.size());
  rtnl_link_stats64 s64{};
  s64.tx_dropped = static_cast<uint64_t>(ifindex) * 10;
  m.attr(IFLA_STATS64, &s64, sizeof(s64));
  return m.done();
}

}  // namespace

TEST(link_name_kind_and_the_device_it_is_stacked_on) {
  rtnl_link_stats64 s64{};
  const std::vector<uint8_t> buf = concat({link_message(2, &s64, nullptr), stacked_message(7, "eth0.100", "vlan", 2, false),
                                           stacked_message(8, "mv0", "macvlan", 4, true), stacked_message(9, "loop", "vlan", 9, false),
                                           stacked_message(10, "port0", "bridge_port", 11, false),
                                           stacked_message(12, "self0", "bridge_port", 12, false),
                                           NetlinkMessage(NLMSG_DONE, NLM_F_MULTI, 2).done()});
  const Links p = parse_links(buf, buf.size());
  CHECK_EQ(p.result.malformed, 0u);
  REQUIRE(p.links.size() == 6u);
  CHECK(p.links[0].name == "eth0");
  CHECK(p.links[0].kind.empty());  // a physical device has no IFLA_LINKINFO
  CHECK_EQ(p.links[0].link_ifindex, 0u);
  CHECK(p.links[1].name == "eth0.100");
  CHECK(p.links[1].kind == "vlan");
  CHECK_EQ(p.links[1].link_ifindex, 2u);
  CHECK_EQ(p.links[1].tx_dropped, 70u);
  CHECK(p.links[2].kind == "macvlan");
  CHECK_EQ(p.links[2].link_ifindex, 0u);  // IFLA_LINK_NETNSID: index 4 is another namespace's
  CHECK_EQ(p.links[3].link_ifindex, 0u);  // never its own lower device
  CHECK_EQ(p.links[1].master_ifindex, 0u);
  CHECK_EQ(p.links[4].master_ifindex, 11u);  // a port of the bridge or bond 11
  CHECK_EQ(p.links[4].link_ifindex, 0u);
  CHECK_EQ(p.links[5].master_ifindex, 0u);  // never its own master
}

TEST(link_short_ifla_link_or_master_or_cut_linkinfo_keeps_the_counts) {
  for (const uint16_t type : {static_cast<uint16_t>(IFLA_LINK), static_cast<uint16_t>(IFLA_MASTER), static_cast<uint16_t>(IFLA_LINKINFO)}) {
    ifinfomsg ifi{};
    ifi.ifi_index = 3;
    NetlinkMessage m(RTM_NEWLINK);
    m.put(&ifi, sizeof(ifi)).pad();
    const uint16_t half = 2;  // as an IFLA_LINKINFO: a nested attribute cut in its header
    m.attr(type, &half, sizeof(half));
    rtnl_link_stats64 s64{};
    s64.tx_dropped = 5;
    m.attr(IFLA_STATS64, &s64, sizeof(s64));
    const Links p = parse_links(m.done(), m.done().size());
    CHECK_EQ(p.result.malformed, 0u);
    REQUIRE(p.links.size() == 1u);
    CHECK_EQ(p.links[0].tx_dropped, 5u);
    CHECK_EQ(p.links[0].link_ifindex, 0u);
    CHECK_EQ(p.links[0].master_ifindex, 0u);
    CHECK(p.links[0].kind.empty());
  }
}
