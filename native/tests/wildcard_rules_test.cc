// Tests for the rules that match more than one exact stream
// (core/wildcard_rules.h, core/rule_prefix.h): prefix containment and the
// group mapping of a rewriting output; the precedence (source prefix
// length, then group prefix length, then exact port) whatever the insert
// order; exact rules still answered by the hash and outranked only by a
// more specific source; excludeSources falling through to the next rule
// and reporting the exclusion; overlaps of equal precedence refused with
// the other rule's id, against exact and wildcard rules; removal and
// take_all; IPv6 prefixes; a replace-all set with an overlap changing nothing.
#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "core/loop_rules.h"
#include "core/rule_table.h"
#include "tests/test_harness.h"

namespace {

using mcr::Prefix;
using mcr::Rule;
using mcr::RuleTable;

uint32_t v4(const char* text) {
  in_addr a{};
  ::inet_pton(AF_INET, text, &a);
  return a.s_addr;
}

Prefix p4(const char* text, uint8_t len) {
  Prefix p;
  const uint32_t a = v4(text);
  std::memcpy(p.b, &a, 4);
  p.len = len;
  return p;
}

Prefix p6(const char* text, uint8_t len) {
  Prefix p;
  ::inet_pton(AF_INET6, text, p.b);
  p.len = len;
  return p;
}

std::unique_ptr<Rule> rule4(uint32_t id, const char* group, uint8_t group_len, uint16_t port,
                            std::vector<Prefix> sources = {}, std::vector<Prefix> excludes = {},
                            const char* src = nullptr) {
  auto r = std::make_unique<Rule>();
  r->id = id;
  r->slot = id;
  r->dst_addr = v4(group);
  r->group_len = group_len;
  r->dst_port = port;
  if (!sources.empty()) r->sets_mut().sources = std::move(sources);
  if (!excludes.empty()) r->sets_mut().excludes = std::move(excludes);
  if (src != nullptr) r->src_addr = v4(src);
  r->outputs.push_back(std::make_unique<mcr::Output>());
  return r;
}

int add(RuleTable& t, std::unique_ptr<Rule> r, uint32_t* clash = nullptr) { return t.add(r, clash); }

uint32_t id_of(const RuleTable& t, const char* dst, uint16_t port, const char* src, bool* excluded = nullptr) {
  const Rule* r = t.match(v4(dst), port, v4(src), excluded);
  return r == nullptr ? 0 : r->id;
}

TEST(prefix_contains_and_maps) {
  const Prefix p = p4("239.1.0.0", 16);
  const uint32_t in = v4("239.1.200.7");
  const uint32_t out = v4("239.2.0.1");
  CHECK(mcr::prefix_contains(p, reinterpret_cast<const uint8_t*>(&in)));
  CHECK(!mcr::prefix_contains(p, reinterpret_cast<const uint8_t*>(&out)));
  const Prefix odd = p4("10.1.128.0", 17);
  const uint32_t lo = v4("10.1.127.255");
  const uint32_t hi = v4("10.1.255.1");
  CHECK(!mcr::prefix_contains(odd, reinterpret_cast<const uint8_t*>(&lo)));
  CHECK(mcr::prefix_contains(odd, reinterpret_cast<const uint8_t*>(&hi)));
  const Prefix any;
  CHECK(mcr::prefix_contains(any, reinterpret_cast<const uint8_t*>(&lo)));

  const uint32_t base = v4("239.9.0.0");
  uint32_t mapped = 0;
  mcr::prefix_map(reinterpret_cast<const uint8_t*>(&base), 16, reinterpret_cast<const uint8_t*>(&in),
                  reinterpret_cast<uint8_t*>(&mapped), 4);
  CHECK_EQ(mapped, v4("239.9.200.7"));
  // A length that splits a byte: 239.8.0.0/15 keeps 7 bits of the second byte.
  const uint32_t base15 = v4("239.8.0.0");
  const uint32_t odd_in = v4("239.1.2.3");
  mcr::prefix_map(reinterpret_cast<const uint8_t*>(&base15), 15, reinterpret_cast<const uint8_t*>(&odd_in),
                  reinterpret_cast<uint8_t*>(&mapped), 4);
  CHECK_EQ(mapped, v4("239.9.2.3"));

  uint8_t g6[16], b6[16], m6[16], want[16];
  ::inet_pton(AF_INET6, "ff3e::1:2", g6);
  ::inet_pton(AF_INET6, "ff3e:9::", b6);
  ::inet_pton(AF_INET6, "ff3e:9::1:2", want);
  mcr::prefix_map(b6, 96, g6, m6, 16);
  CHECK(std::memcmp(m6, want, 16) == 0);

  Prefix dirty = p4("10.1.2.3", 16);
  CHECK(!mcr::prefix_clear_host_bits(&dirty, 4));
  CHECK(dirty == p4("10.1.0.0", 16));
}

TEST(source_prefix_beats_any_source_exact_rule) {
  RuleTable t;
  CHECK_EQ(add(t, rule4(1, "239.1.1.1", 0, 5000)), 0);  // (*,G), exact: in the hash
  CHECK_EQ(add(t, rule4(2, "239.1.1.1", 0, 5000, {p4("10.1.0.0", 16)})), 0);
  CHECK_EQ(id_of(t, "239.1.1.1", 5000, "10.1.4.4"), 2u);
  CHECK_EQ(id_of(t, "239.1.1.1", 5000, "10.2.4.4"), 1u);
  // An exact (S,G) rule outranks the prefix for its one source.
  CHECK_EQ(add(t, rule4(3, "239.1.1.1", 0, 5000, {}, {}, "10.1.4.4")), 0);
  CHECK_EQ(id_of(t, "239.1.1.1", 5000, "10.1.4.4"), 3u);
  CHECK_EQ(id_of(t, "239.1.1.5", 5000, "10.1.4.4"), 0u);
}

TEST(precedence_source_then_group_then_port_in_any_order) {
  for (int order = 0; order < 2; ++order) {
    RuleTable t;
    std::vector<std::unique_ptr<Rule>> rules;
    rules.push_back(rule4(1, "239.1.0.0", 16, 0));                        // any src, /16, any port
    rules.push_back(rule4(2, "239.1.0.0", 16, 5000));                     // any src, /16, port
    rules.push_back(rule4(3, "239.1.1.0", 24, 0));                        // any src, /24, any port
    rules.push_back(rule4(4, "239.0.0.0", 8, 0, {p4("10.0.0.0", 8)}));   // src /8 beats any group length
    rules.push_back(rule4(5, "239.1.1.1", 0, 0, {p4("10.0.0.0", 8)}));   // src /8, exact group, any port
    if (order == 1) std::reverse(rules.begin(), rules.end());
    for (auto& r : rules) CHECK_EQ(t.add(r), 0);
    CHECK_EQ(id_of(t, "239.1.2.2", 6000, "192.0.2.1"), 1u);
    CHECK_EQ(id_of(t, "239.1.2.2", 5000, "192.0.2.1"), 2u);
    CHECK_EQ(id_of(t, "239.1.1.9", 5000, "192.0.2.1"), 3u);   // /24 beats /16 with port
    CHECK_EQ(id_of(t, "239.1.1.9", 5000, "10.9.9.9"), 4u);    // a source prefix beats them all
    CHECK_EQ(id_of(t, "239.1.1.1", 5000, "10.9.9.9"), 5u);    // same source length: longer group
    CHECK_EQ(id_of(t, "238.1.1.1", 5000, "10.9.9.9"), 0u);
  }
}

TEST(source_list_and_excludes) {
  RuleTable t;
  CHECK_EQ(add(t, rule4(1, "239.1.1.1", 0, 5000)), 0);
  CHECK_EQ(add(t, rule4(2, "239.1.1.0", 24, 5000, {}, {p4("10.0.0.66", 32)})), 0);
  bool excluded = false;
  // The exact (*,G) rule keeps its group: equal source (any), longer group.
  CHECK_EQ(id_of(t, "239.1.1.1", 5000, "10.0.0.66"), 1u);
  CHECK_EQ(id_of(t, "239.1.1.2", 5000, "10.0.0.1", &excluded), 2u);
  CHECK(!excluded);
  CHECK_EQ(id_of(t, "239.1.1.2", 5000, "10.0.0.66", &excluded), 0u);
  CHECK(excluded);
  // A source list: each entry its own precedence.
  CHECK_EQ(add(t, rule4(3, "239.1.1.0", 24, 0, {p4("10.0.0.7", 32), p4("172.16.0.0", 12)})), 0);
  CHECK_EQ(id_of(t, "239.1.1.2", 5000, "10.0.0.7"), 3u);
  CHECK_EQ(id_of(t, "239.1.1.2", 5000, "172.20.1.1"), 3u);
  CHECK_EQ(id_of(t, "239.1.1.2", 5000, "10.0.0.8"), 2u);
  // Removal unlinks every entry.
  CHECK(t.remove(3) != nullptr);
  CHECK_EQ(id_of(t, "239.1.1.2", 5000, "10.0.0.7"), 2u);
  CHECK(t.remove(2) != nullptr);
  excluded = false;
  CHECK_EQ(id_of(t, "239.1.1.2", 5000, "10.0.0.66", &excluded), 0u);
  CHECK(!excluded);
}

TEST(overlaps_of_equal_precedence_are_refused_with_the_other_id) {
  RuleTable t;
  uint32_t clash = 0;
  CHECK_EQ(add(t, rule4(1, "239.1.1.1", 0, 5000)), 0);
  // Same stream from any source with an exclusion: same key as rule 1.
  CHECK_EQ(add(t, rule4(2, "239.1.1.1", 0, 5000, {}, {p4("10.0.0.1", 32)}), &clash), -EEXIST);
  CHECK_EQ(clash, 1u);
  CHECK_EQ(add(t, rule4(3, "239.1.0.0", 16, 0, {p4("10.1.0.0", 16)})), 0);
  clash = 0;
  CHECK_EQ(add(t, rule4(4, "239.1.0.0", 16, 0, {p4("192.0.2.0", 24), p4("10.1.0.0", 16)}), &clash), -EEXIST);
  CHECK_EQ(clash, 3u);
  // A list entry that is the source of an exact (S,G) rule.
  CHECK_EQ(add(t, rule4(5, "239.2.2.2", 0, 5000, {}, {}, "10.0.0.9")), 0);
  clash = 0;
  CHECK_EQ(add(t, rule4(6, "239.2.2.2", 0, 5000, {p4("10.0.0.9", 32), p4("10.0.0.10", 32)}), &clash), -EEXIST);
  CHECK_EQ(clash, 5u);
  // ...and the other way round: an exact rule meeting a wildcard entry.
  CHECK_EQ(add(t, rule4(7, "239.3.3.3", 0, 5000, {p4("10.0.0.9", 32), p4("10.0.0.10", 32)})), 0);
  clash = 0;
  CHECK_EQ(add(t, rule4(8, "239.3.3.3", 0, 5000, {}, {}, "10.0.0.10"), &clash), -EEXIST);
  CHECK_EQ(clash, 7u);
  // Different precedence is no overlap: /16 group with port vs without.
  CHECK_EQ(add(t, rule4(9, "239.1.0.0", 16, 5000, {p4("10.1.0.0", 16)})), 0);
  CHECK_EQ(t.size(), 5u);
  t.take_all();
  CHECK_EQ(id_of(t, "239.1.2.2", 5000, "10.1.1.1"), 0u);
}

TEST(ipv6_prefix_rules) {
  RuleTable t;
  auto r = std::make_unique<Rule>();
  r->id = 1;
  r->family = 6;
  ::inet_pton(AF_INET6, "ff3e::", r->dst6.b);
  r->group_len = 96;
  r->dst_port = 0;
  r->sets_mut().excludes.push_back(p6("2001:db8::66", 128));
  CHECK_EQ(t.add(r), 0);
  uint8_t dst[16], src[16], other[16], bad[16];
  ::inet_pton(AF_INET6, "ff3e::12:34", dst);
  ::inet_pton(AF_INET6, "2001:db8::1", src);
  ::inet_pton(AF_INET6, "ff3e::1:0:0", other);
  ::inet_pton(AF_INET6, "2001:db8::66", bad);
  CHECK(t.match6(dst, 7, src) != nullptr);
  CHECK(t.match6(other, 7, src) == nullptr);
  bool excluded = false;
  CHECK(t.match6(dst, 7, bad, &excluded) == nullptr);
  CHECK(excluded);
  // IPv4 lookups never see IPv6 entries.
  CHECK_EQ(id_of(t, "239.1.1.1", 7, "10.0.0.1"), 0u);
}

// rule4 with counter slots claimed, as the addon claims them.
std::unique_ptr<Rule> claimed(mcr::CounterBlock& counters, std::unique_ptr<Rule> r) {
  r->slot = static_cast<uint32_t>(counters.claim_rule_slot());
  for (auto& out : r->outputs) out->slot = static_cast<uint32_t>(counters.claim_output_slot());
  return r;
}

TEST(replace_all_with_an_overlap_changes_nothing) {
  mcr::CounterBlock counters(8, 8);
  mcr::LoopRules rules(&counters);
  mcr::Command add_cmd;
  add_cmd.kind = mcr::Command::Kind::add_rule;
  add_cmd.rule = claimed(counters, rule4(1, "239.1.0.0", 16, 0));
  CHECK_EQ(rules.apply(add_cmd), 0);
  mcr::Command replace;
  replace.kind = mcr::Command::Kind::replace_rules;
  replace.rules.push_back(claimed(counters, rule4(2, "239.5.0.0", 16, 0, {p4("10.0.0.0", 8)})));
  replace.rules.push_back(claimed(counters, rule4(3, "239.5.0.0", 16, 0, {p4("10.0.0.0", 8)})));
  CHECK_EQ(rules.apply(replace), -EEXIST);
  CHECK(rules.match(v4("239.1.9.9"), 1, v4("10.0.0.1")) != nullptr);
  CHECK(rules.match(v4("239.5.9.9"), 1, v4("10.0.0.1")) == nullptr);
}

}  // namespace
