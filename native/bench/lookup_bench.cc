// lookup_bench: what the rule lookup costs per datagram as the table grows
// and as rules that match more than one stream (wildcard_rules.h) join it.
// Looks up 4096 pre-built (group, port, source) keys in a loop and prints
// one JSON line per case with the thread CPU per lookup in ns (median of
// --repeats), and the ratio to the 1-exact-rule case of the same run.
// Built from this tree's rule table, or, with -DMCR_LOOKUP_BASELINE, from
// another checkout's (bench/lookup.ts compiles main's that way), where only
// the exact cases exist: the same exact cases in both show what the
// wildcard path added to exact rules.
//
//   lookup_bench [--repeats N] [--passes N]
#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "core/rule_table.h"

namespace {

constexpr uint32_t kKeys = 4096;

struct Key {
  uint32_t dst;
  uint16_t port;
  uint32_t src;
};

uint64_t thread_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

uint32_t group_of(uint32_t i) { return htonl(0xEF000000u | (i + 1)); }  // 239.0.0.1 + i

std::unique_ptr<mcr::Rule> exact_rule(uint32_t id, uint32_t dst) {
  auto r = std::make_unique<mcr::Rule>();
  r->id = id;
  r->dst_addr = dst;
  r->dst_port = 5000;
  r->outputs.push_back(std::make_unique<mcr::Output>());
  return r;
}

#ifndef MCR_LOOKUP_BASELINE
// Wildcard rule i, kind "source": source 10.i.0.0/16 on 238.i.0.0/16 any
// port (ranked above an exact any-source rule: walked on exact hits);
// kind "group": any source on 238.i.0.0/16 (ranked below: never walked on
// exact hits). Neither contains an exact rule's datagrams.
std::unique_ptr<mcr::Rule> wildcard_rule(uint32_t id, uint32_t i, bool source) {
  auto r = std::make_unique<mcr::Rule>();
  r->id = id;
  r->dst_addr = htonl(0xEE000000u | ((i & 0xff) << 16) | ((i >> 8) << 8));
  r->group_len = 24;
  r->dst_port = 0;
  if (source) {
    mcr::Prefix p;
    const uint32_t net = htonl(0x0A000000u | ((i & 0xff) << 16) | ((i >> 8) << 8));
    std::memcpy(p.b, &net, 4);
    p.len = 24;
    r->sets_mut().sources.push_back(p);
  }
  r->outputs.push_back(std::make_unique<mcr::Output>());
  return r;
}
#endif

struct Case {
  std::string name;
  uint32_t exact;
  uint32_t wildcard;
  bool source_wildcards;
  bool hit_wildcard;  // keys hit the last wildcard rule instead of exact rules
};

double run_case(const Case& c, uint32_t repeats, uint32_t passes) {
  mcr::RuleTable table;
  for (uint32_t i = 0; i < c.exact; ++i) {
    auto r = exact_rule(i + 1, group_of(i));
    table.add(r);
  }
  (void)c.source_wildcards;
#ifndef MCR_LOOKUP_BASELINE
  for (uint32_t i = 0; i < c.wildcard; ++i) {
    auto r = wildcard_rule(c.exact + i + 1, i, c.source_wildcards);
    table.add(r);
  }
#endif
  std::vector<Key> keys(kKeys);
  for (uint32_t k = 0; k < kKeys; ++k) {
    const uint32_t i = static_cast<uint32_t>((uint64_t{k} * 7919u) % c.exact);
    keys[k] = {group_of(i), 5000, htonl(0xC0000201u)};  // from 192.0.2.1
    if (c.hit_wildcard && c.wildcard > 0) {
      const uint32_t w = c.wildcard - 1;
      keys[k].dst = htonl(0xEE000000u | ((w & 0xff) << 16) | ((w >> 8) << 8) | (k & 0xff));
      keys[k].src = htonl(0x0A000000u | ((w & 0xff) << 16) | ((w >> 8) << 8) | 7);
    }
  }
  std::vector<double> per;
  uint64_t found = 0;
  for (uint32_t r = 0; r < repeats; ++r) {
    const uint64_t t0 = thread_ns();
    for (uint32_t p = 0; p < passes; ++p) {
      for (const Key& k : keys) {
        const mcr::Rule* rule = table.match(k.dst, k.port, k.src);
        found += rule != nullptr ? rule->id : 0;
      }
    }
    per.push_back(static_cast<double>(thread_ns() - t0) / (static_cast<double>(passes) * kKeys));
  }
  if (found == 0) std::fprintf(stderr, "lookup_bench: case %s matched nothing\n", c.name.c_str());
  std::sort(per.begin(), per.end());
  return per[per.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  uint32_t repeats = 9;
  uint32_t passes = 200;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--repeats") == 0) repeats = static_cast<uint32_t>(std::atoi(argv[i + 1]));
    else if (std::strcmp(argv[i], "--passes") == 0) passes = static_cast<uint32_t>(std::atoi(argv[i + 1]));
  }
  std::vector<Case> cases = {
      {"exact 1", 1, 0, false, false},
      {"exact 1000", 1000, 0, false, false},
      {"exact 100000", 100000, 0, false, false},
#ifndef MCR_LOOKUP_BASELINE
      {"exact 1000 + 100 group-prefix rules", 1000, 100, false, false},
      {"exact 1000 + 10 source-prefix rules", 1000, 10, true, false},
      {"exact 1000 + 100 source-prefix rules", 1000, 100, true, false},
      {"prefix hit, 100 group-prefix rules", 1000, 100, false, true},
      {"prefix hit, 100 source-prefix rules", 1000, 100, true, true},
#endif
  };
  double base = 0;
  for (const Case& c : cases) {
    const double ns = run_case(c, repeats, passes);
    if (base == 0) base = ns;
    std::printf("{\"case\":\"%s\",\"ns_per_lookup\":%.2f,\"ratio\":%.3f}\n", c.name.c_str(), ns, ns / base);
  }
  return 0;
}
