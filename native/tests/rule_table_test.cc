// Tests for mcr::RuleTable: lookup by (destination, port), source-specific
// rules winning over any-source ones whatever the insert order, rejection of
// duplicate ids and keys without taking ownership, removal unlinking a rule
// from lookups, take_all, a thousand rules, and output fds being closed when
// (and only when) the rule owning them is destroyed.
#include <cstring>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include "core/rule_table.h"
#include "tests/frame_builder.h"
#include "tests/test_harness.h"

namespace {

using mcr::Rule;
using mcr::RuleTable;
using mcrtest::ipv4;

const uint32_t kGroup = htonl(ipv4(239, 1, 1, 1));
const uint32_t kOtherGroup = htonl(ipv4(239, 1, 1, 2));
const uint32_t kSourceA = htonl(ipv4(10, 0, 0, 1));
const uint32_t kSourceB = htonl(ipv4(10, 0, 0, 2));
constexpr uint16_t kPort = 5004;

// A rule with `outputs` outputs whose fd is -1, so destroying it closes nothing.
std::unique_ptr<Rule> make_rule(uint32_t id, uint32_t dst, uint16_t port, uint32_t src = 0,
                                size_t outputs = 1) {
  auto rule = std::make_unique<Rule>();
  rule->id = id;
  rule->slot = id;
  rule->dst_addr = dst;
  rule->dst_port = port;
  rule->src_addr = src;
  for (size_t i = 0; i < outputs; ++i) rule->outputs.push_back(std::make_unique<mcr::Output>());
  return rule;
}

// Adds and reports add()'s return; the table owns the rule on 0.
int add(RuleTable& table, std::unique_ptr<Rule> rule) { return table.add(rule); }

uint32_t matched_id(const RuleTable& table, uint32_t dst, uint16_t port, uint32_t src) {
  const Rule* r = table.match(dst, port, src);
  return r == nullptr ? 0 : r->id;
}

bool fd_open(int fd) { return ::fcntl(fd, F_GETFD) != -1 || errno != EBADF; }

TEST(rule_matches_by_destination_and_port) {
  RuleTable table;
  CHECK_EQ(add(table, make_rule(1, kGroup, kPort)), 0);
  CHECK_EQ(table.size(), 1u);
  CHECK_EQ(matched_id(table, kGroup, kPort, kSourceA), 1u);
  CHECK_EQ(matched_id(table, kGroup, kPort, 0), 1u);
  CHECK(table.match(kGroup, kPort + 1, kSourceA) == nullptr);
  CHECK(table.match(kOtherGroup, kPort, kSourceA) == nullptr);
  CHECK(table.match(0, 0, 0) == nullptr);
}

TEST(rule_same_group_different_ports_are_separate) {
  RuleTable table;
  CHECK_EQ(add(table, make_rule(1, kGroup, 5000)), 0);
  CHECK_EQ(add(table, make_rule(2, kGroup, 5001)), 0);
  CHECK_EQ(add(table, make_rule(3, kOtherGroup, 5000)), 0);
  CHECK_EQ(matched_id(table, kGroup, 5000, kSourceA), 1u);
  CHECK_EQ(matched_id(table, kGroup, 5001, kSourceA), 2u);
  CHECK_EQ(matched_id(table, kOtherGroup, 5000, kSourceA), 3u);
  CHECK(table.match(kOtherGroup, 5001, kSourceA) == nullptr);
}

TEST(rule_source_specific_beats_any_source_any_order) {
  for (bool specific_first : {false, true}) {
    RuleTable table;
    if (specific_first) {
      CHECK_EQ(add(table, make_rule(2, kGroup, kPort, kSourceA)), 0);
      CHECK_EQ(add(table, make_rule(1, kGroup, kPort)), 0);
    } else {
      CHECK_EQ(add(table, make_rule(1, kGroup, kPort)), 0);
      CHECK_EQ(add(table, make_rule(2, kGroup, kPort, kSourceA)), 0);
    }
    CHECK_EQ(matched_id(table, kGroup, kPort, kSourceA), 2u);
    CHECK_EQ(matched_id(table, kGroup, kPort, kSourceB), 1u);
  }
}

TEST(rule_source_specific_does_not_match_other_sources) {
  RuleTable table;
  CHECK_EQ(add(table, make_rule(7, kGroup, kPort, kSourceA)), 0);
  CHECK_EQ(matched_id(table, kGroup, kPort, kSourceA), 7u);
  CHECK(table.match(kGroup, kPort, kSourceB) == nullptr);
  CHECK(table.match(kGroup, kPort, 0) == nullptr);
  // Two sources on one destination each get their own rule.
  CHECK_EQ(add(table, make_rule(8, kGroup, kPort, kSourceB)), 0);
  CHECK_EQ(matched_id(table, kGroup, kPort, kSourceA), 7u);
  CHECK_EQ(matched_id(table, kGroup, kPort, kSourceB), 8u);
  CHECK(table.match(kGroup, kPort, htonl(ipv4(10, 0, 0, 3))) == nullptr);
}

TEST(rule_duplicate_id_rejected_and_caller_keeps_rule) {
  RuleTable table;
  CHECK_EQ(add(table, make_rule(5, kGroup, kPort)), 0);
  std::unique_ptr<Rule> dup = make_rule(5, kOtherGroup, kPort, 0, 3);
  Rule* raw = dup.get();
  CHECK_EQ(table.add(dup), -EEXIST);
  CHECK(dup.get() == raw);  // not moved from
  REQUIRE(dup != nullptr);
  CHECK_EQ(dup->outputs.size(), 3u);
  CHECK_EQ(table.size(), 1u);
  CHECK(table.match(kOtherGroup, kPort, kSourceA) == nullptr);
  CHECK_EQ(matched_id(table, kGroup, kPort, kSourceA), 5u);
}

TEST(rule_duplicate_key_rejected) {
  RuleTable table;
  CHECK_EQ(add(table, make_rule(1, kGroup, kPort)), 0);
  CHECK_EQ(add(table, make_rule(2, kGroup, kPort, kSourceA)), 0);
  std::unique_ptr<Rule> any = make_rule(3, kGroup, kPort);
  CHECK_EQ(table.add(any), -EEXIST);
  CHECK(any != nullptr);
  std::unique_ptr<Rule> specific = make_rule(4, kGroup, kPort, kSourceA);
  CHECK_EQ(table.add(specific), -EEXIST);
  CHECK(specific != nullptr);
  CHECK_EQ(table.size(), 2u);
  CHECK(table.find(3) == nullptr);
  CHECK(table.find(4) == nullptr);
  CHECK_EQ(matched_id(table, kGroup, kPort, kSourceA), 2u);
  CHECK_EQ(matched_id(table, kGroup, kPort, kSourceB), 1u);
}

TEST(rule_find_by_id) {
  RuleTable table;
  CHECK_EQ(add(table, make_rule(11, kGroup, kPort)), 0);
  const Rule* r = table.find(11);
  REQUIRE(r != nullptr);
  CHECK_EQ(r->id, 11u);
  CHECK(r == table.match(kGroup, kPort, kSourceA));
  CHECK(table.find(12) == nullptr);
}

TEST(rule_remove_returns_rule_and_unlinks) {
  RuleTable table;
  CHECK_EQ(add(table, make_rule(1, kGroup, kPort, 0, 2)), 0);
  const Rule* installed = table.find(1);
  std::unique_ptr<Rule> removed = table.remove(1);
  REQUIRE(removed != nullptr);
  CHECK(removed.get() == installed);
  CHECK_EQ(removed->id, 1u);
  CHECK_EQ(removed->outputs.size(), 2u);
  CHECK_EQ(table.size(), 0u);
  CHECK(table.find(1) == nullptr);
  CHECK(table.match(kGroup, kPort, kSourceA) == nullptr);
  // Both the id and the key are free again.
  CHECK_EQ(add(table, make_rule(1, kGroup, kPort)), 0);
  CHECK_EQ(matched_id(table, kGroup, kPort, kSourceA), 1u);
}

TEST(rule_remove_source_specific_falls_back_to_any_source) {
  RuleTable table;
  CHECK_EQ(add(table, make_rule(1, kGroup, kPort)), 0);
  CHECK_EQ(add(table, make_rule(2, kGroup, kPort, kSourceA)), 0);
  CHECK(table.remove(2) != nullptr);
  CHECK_EQ(matched_id(table, kGroup, kPort, kSourceA), 1u);
  CHECK(table.remove(1) != nullptr);
  CHECK(table.match(kGroup, kPort, kSourceA) == nullptr);
}

TEST(rule_remove_any_source_keeps_source_specific) {
  RuleTable table;
  CHECK_EQ(add(table, make_rule(1, kGroup, kPort)), 0);
  CHECK_EQ(add(table, make_rule(2, kGroup, kPort, kSourceA)), 0);
  CHECK(table.remove(1) != nullptr);
  CHECK_EQ(matched_id(table, kGroup, kPort, kSourceA), 2u);
  CHECK(table.match(kGroup, kPort, kSourceB) == nullptr);
}

TEST(rule_remove_unknown_returns_null) {
  RuleTable table;
  CHECK(table.remove(1) == nullptr);
  CHECK_EQ(add(table, make_rule(1, kGroup, kPort)), 0);
  CHECK(table.remove(2) == nullptr);
  CHECK(table.remove(1) != nullptr);
  CHECK(table.remove(1) == nullptr);
  CHECK_EQ(table.size(), 0u);
}

TEST(rule_take_all_empties_table) {
  RuleTable table;
  CHECK_EQ(add(table, make_rule(1, kGroup, kPort)), 0);
  CHECK_EQ(add(table, make_rule(2, kGroup, kPort, kSourceA)), 0);
  CHECK_EQ(add(table, make_rule(3, kOtherGroup, 6000)), 0);
  std::vector<std::unique_ptr<Rule>> all = table.take_all();
  CHECK_EQ(all.size(), 3u);
  std::set<uint32_t> ids;
  for (const auto& r : all) {
    REQUIRE(r != nullptr);
    ids.insert(r->id);
  }
  CHECK(ids == (std::set<uint32_t>{1, 2, 3}));
  CHECK_EQ(table.size(), 0u);
  CHECK(table.find(1) == nullptr);
  CHECK(table.match(kGroup, kPort, kSourceA) == nullptr);
  CHECK(table.match(kOtherGroup, 6000, kSourceA) == nullptr);
  CHECK(table.take_all().empty());
  // The table is usable again afterwards.
  CHECK_EQ(add(table, make_rule(1, kGroup, kPort)), 0);
  CHECK_EQ(matched_id(table, kGroup, kPort, 0), 1u);
}

TEST(rule_thousand_rules_all_found) {
  RuleTable table;
  constexpr uint32_t kCount = 1000;
  // Half any-source on their own group; half source-specific sharing groups
  // with an any-source rule, so buckets hold one or two rules.
  for (uint32_t i = 1; i <= kCount; ++i) {
    const uint32_t group = htonl(ipv4(239, 2, static_cast<uint8_t>(i / 200), static_cast<uint8_t>(i / 2 % 100)));
    const uint16_t port = static_cast<uint16_t>(10000 + i / 2);
    const uint32_t src = (i % 2 == 0) ? 0 : htonl(ipv4(10, 9, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)));
    CHECK_EQ(add(table, make_rule(i, group, port, src)), 0);
  }
  CHECK_EQ(table.size(), kCount);
  size_t found = 0;
  for (uint32_t i = 1; i <= kCount; ++i) {
    const Rule* by_id = table.find(i);
    if (by_id == nullptr) continue;
    const uint32_t probe_src = by_id->src_addr != 0 ? by_id->src_addr : htonl(ipv4(192, 0, 2, 1));
    if (table.match(by_id->dst_addr, by_id->dst_port, probe_src) == by_id) ++found;
  }
  CHECK_EQ(found, kCount);
  for (uint32_t i = 1; i <= kCount; i += 2) CHECK(table.remove(i) != nullptr);
  CHECK_EQ(table.size(), kCount / 2);
  for (uint32_t i = 2; i <= kCount; i += 2) CHECK(table.find(i) != nullptr);
}

TEST(rule_output_fds_closed_when_rule_destroyed) {
  int fds[3];
  for (int& fd : fds) fd = ::eventfd(0, EFD_CLOEXEC);
  for (int fd : fds) REQUIRE(fd >= 0);
  {
    RuleTable table;
    auto rule = make_rule(1, kGroup, kPort, 0, 0);
    for (int fd : fds) {
      auto out = std::make_unique<mcr::Output>();
      out->fd = fd;
      rule->outputs.push_back(std::move(out));
    }
    CHECK_EQ(table.add(rule), 0);
    for (int fd : fds) CHECK(fd_open(fd));
    // Removal hands the rule back; its outputs stay open until the caller drops it.
    std::unique_ptr<Rule> removed = table.remove(1);
    REQUIRE(removed != nullptr);
    for (int fd : fds) CHECK(fd_open(fd));
    removed.reset();
    for (int fd : fds) CHECK(!fd_open(fd));
  }
}

TEST(rule_output_fds_closed_with_table) {
  const int fd = ::eventfd(0, EFD_CLOEXEC);
  REQUIRE(fd >= 0);
  {
    RuleTable table;
    auto rule = make_rule(1, kGroup, kPort, 0, 0);
    rule->outputs.push_back(std::make_unique<mcr::Output>());
    rule->outputs.back()->fd = fd;
    CHECK_EQ(table.add(rule), 0);
    CHECK(fd_open(fd));
  }
  CHECK(!fd_open(fd));
}

TEST(rule_rejected_rule_keeps_fds_open) {
  const int fd = ::eventfd(0, EFD_CLOEXEC);
  REQUIRE(fd >= 0);
  RuleTable table;
  CHECK_EQ(add(table, make_rule(1, kGroup, kPort)), 0);
  auto dup = make_rule(1, kOtherGroup, kPort, 0, 0);
  dup->outputs.push_back(std::make_unique<mcr::Output>());
  dup->outputs.back()->fd = fd;
  CHECK_EQ(table.add(dup), -EEXIST);
  CHECK(fd_open(fd));  // still owned by `dup`, which the caller may report and drop
  dup.reset();
  CHECK(!fd_open(fd));
}

// ---- IPv6 ----

mcr::Ipv6Addr v6(uint8_t first, uint8_t second, uint8_t last) {
  mcr::Ipv6Addr a;
  a.b[0] = first;
  a.b[1] = second;
  a.b[15] = last;
  return a;
}

const mcr::Ipv6Addr kGroup6 = v6(0xff, 0x3e, 0x34);
const mcr::Ipv6Addr kOtherGroup6 = v6(0xff, 0x3e, 0x35);
const mcr::Ipv6Addr kSource6A = v6(0xfd, 0x00, 1);
const mcr::Ipv6Addr kSource6B = v6(0xfd, 0x00, 2);

std::unique_ptr<Rule> make_rule6(uint32_t id, const mcr::Ipv6Addr& dst, uint16_t port, const mcr::Ipv6Addr& src = {}) {
  auto rule = make_rule(id, 0, port);
  rule->family = 6;
  rule->dst6 = dst;
  rule->src6 = src;
  return rule;
}

uint32_t matched6(const RuleTable& table, const mcr::Ipv6Addr& dst, uint16_t port, const mcr::Ipv6Addr& src) {
  const Rule* r = table.match6(dst.b, port, src.b);
  return r == nullptr ? 0 : r->id;
}

TEST(rule6_matches_by_destination_port_and_source) {
  RuleTable table;
  CHECK_EQ(matched6(table, kGroup6, kPort, kSource6A), 0u);
  CHECK_EQ(add(table, make_rule6(1, kGroup6, kPort)), 0);
  CHECK_EQ(add(table, make_rule6(2, kGroup6, kPort, kSource6B)), 0);
  CHECK_EQ(matched6(table, kGroup6, kPort, kSource6A), 1u);
  CHECK_EQ(matched6(table, kGroup6, kPort, kSource6B), 2u);
  CHECK_EQ(matched6(table, kGroup6, kPort + 1, kSource6A), 0u);
  CHECK_EQ(matched6(table, kOtherGroup6, kPort, kSource6A), 0u);
  CHECK_EQ(add(table, make_rule6(3, kGroup6, kPort, kSource6B)), -EEXIST);
  CHECK_EQ(add(table, make_rule6(4, kGroup6, kPort)), -EEXIST);
  auto removed = table.remove(2);
  CHECK(removed != nullptr);
  CHECK_EQ(matched6(table, kGroup6, kPort, kSource6B), 1u);
  CHECK(table.remove(1) != nullptr);
  CHECK_EQ(matched6(table, kGroup6, kPort, kSource6A), 0u);
  CHECK_EQ(table.size(), 0u);
}

TEST(rule6_and_rule4_tables_are_apart) {
  // An IPv4 rule whose address bytes equal the start of an IPv6 one, same
  // port: neither matches the other family's datagrams.
  RuleTable table;
  mcr::Ipv6Addr lookalike{};
  const uint32_t group4 = kGroup;
  std::memcpy(lookalike.b, &group4, 4);
  CHECK_EQ(add(table, make_rule(1, kGroup, kPort)), 0);
  CHECK_EQ(add(table, make_rule6(2, lookalike, kPort)), 0);
  CHECK_EQ(matched_id(table, kGroup, kPort, kSourceA), 1u);
  CHECK_EQ(matched6(table, lookalike, kPort, kSource6A), 2u);
  CHECK_EQ(table.take_all().size(), 2u);
  CHECK_EQ(matched6(table, lookalike, kPort, kSource6A), 0u);
  CHECK_EQ(matched_id(table, kGroup, kPort, kSourceA), 0u);
}

TEST(rule6_thousand_rules_all_found) {
  RuleTable table;
  for (uint32_t i = 1; i <= 1000; ++i) {
    mcr::Ipv6Addr g = v6(0xff, 0x3e, static_cast<uint8_t>(i));
    g.b[14] = static_cast<uint8_t>(i >> 8);
    REQUIRE(add(table, make_rule6(i, g, static_cast<uint16_t>(5000 + i % 7))) == 0);
  }
  uint32_t found = 0;
  for (uint32_t i = 1; i <= 1000; ++i) {
    mcr::Ipv6Addr g = v6(0xff, 0x3e, static_cast<uint8_t>(i));
    g.b[14] = static_cast<uint8_t>(i >> 8);
    if (matched6(table, g, static_cast<uint16_t>(5000 + i % 7), kSource6A) == i) ++found;
  }
  CHECK_EQ(found, 1000u);
}

}  // namespace
