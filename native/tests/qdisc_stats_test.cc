// Tests for mcr::parse_qdisc_dump on hand-built RTM_NEWQDISC dump replies:
// each root qdisc's interface, kind and queue counters from
// TCA_STATS2/TCA_STATS_QUEUE, the legacy TCA_STATS when that is all there
// is, children skipped, NLMSG_DONE / NLMSG_ERROR / NLM_F_DUMP_INTR, a short
// stats attribute malformed, and truncation at every length: the parser
// never reads past the buffer (each parse runs on an exact-size heap copy).
// read_root_qdiscs itself is tested on real interfaces
// (tests/integration/mcrd-output-drops.test.ts).
#include <linux/gen_stats.h>
#include <linux/netlink.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/qdisc_stats.h"
#include "tests/netlink_message.h"
#include "tests/test_harness.h"

namespace {

using mcr::QdiscParse;
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
  QdiscParse result;
  std::vector<RootQdisc> roots;
};

Parsed parse(const std::vector<uint8_t>& buf, size_t len) {
  auto copy = std::make_unique_for_overwrite<uint8_t[]>(len == 0 ? 1 : len);
  std::memcpy(copy.get(), buf.data(), len);
  Parsed p;
  p.result = mcr::parse_qdisc_dump(copy.get(), len, &p.roots);
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
  CHECK_EQ(q.overlimits, 56u);
  CHECK_EQ(q.qlen, 3u);
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
  CHECK_EQ(p.roots[0].qlen, 1u);
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
