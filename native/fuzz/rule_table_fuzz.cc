// libFuzzer harness for mcr::RuleTable (native/core/rule_table.*): the
// input is a stream of the operations the loop applies to its table (add,
// remove, replace-all's take_all) and the lookups it makes (match per
// datagram, find per command), each checked against a plain reference
// model (std::map by id and by (destination, port, source)) in which a
// source-specific rule wins over an any-source one.
// IPv6 rules (ops 6 and 7) live in the same model under family 6: their
// addresses are the IPv4 ones widened (destination ff3e::/96 + the u32,
// source fd00::/96 + the u32, or :: for 0, "any source"), so the same small
// domains collide, and an IPv4 rule never answers an IPv6 lookup.
// Operations (u8 op % 8, fields after it; see tests/fuzz/make-corpus.ts):
//   0 add      u8 id, addr dst, port, addr src, u8 outputs (% 3)
//   1 remove   u8 id
//   2 match    addr dst, port, addr src
//   3 find     u8 id
//   4 take_all
//   5 verify   every rule in the model is found by id and by its own key
//              (the first 16 in an input; later ones do nothing)
//   6 add6     as add, an IPv6 rule
//   7 match6   as match, an IPv6 datagram
// An id byte with bit 7 set is followed by a raw u32 id (else id = byte % 32);
// an addr byte with bit 7 set by a raw u32 (else one of 0.0.0.0,
// 239.1.1.1, 239.1.1.2, 255.255.255.255, by byte % 4); a port byte with
// bit 7 set by a raw u16 (else one of 0, 5004, 5005, 65535). A rule of
// port 0 matches any port (a wildcard rule, wildcard_rules.h), so the
// walk after the exact hash and its precedence are fuzzed too. Small
// domains make collisions (same id, same key, same destination with
// another source) the common case.
#include <arpa/inet.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <tuple>
#include <vector>

#include "core/rule_table.h"
#include "fuzz/fuzz_support.h"

namespace {

using mcr::Rule;
using mcr::RuleTable;
using mcrfuzz::ByteReader;

struct Spec {
  int family = 4;
  uint32_t dst = 0;
  uint16_t port = 0;
  uint32_t src = 0;
  size_t outputs = 0;
};

uint32_t read_id(ByteReader& in) {
  const uint8_t b = in.u8();
  return (b & 0x80) != 0 ? in.u32() : b % 32;
}

uint32_t read_addr(ByteReader& in) {
  static constexpr uint32_t kAddrs[] = {0x00000000, 0xef010101, 0xef010102, 0xffffffff};
  const uint8_t b = in.u8();
  return htonl((b & 0x80) != 0 ? in.u32() : kAddrs[b % 4]);
}

uint16_t read_port(ByteReader& in) {
  static constexpr uint16_t kPorts[] = {0, 5004, 5005, 65535};
  const uint8_t b = in.u8();
  return (b & 0x80) != 0 ? in.u16() : kPorts[b % 4];
}

// The reference model: rules by id, and the same rules by their whole
// (destination, port, source) key, so a lookup is two map probes (exact
// source, else any source) and long inputs stay fast.
using Key = std::tuple<int, uint32_t, uint16_t, uint32_t>;

// The IPv6 forms of a model address.
mcr::Ipv6Addr widen(uint32_t addr_be, uint8_t first, uint8_t second) {
  mcr::Ipv6Addr a;
  if (addr_be == 0 && first != 0xff) return a;  // 0 source: any
  a.b[0] = first;
  a.b[1] = second;
  std::memcpy(a.b + 12, &addr_be, 4);
  return a;
}
mcr::Ipv6Addr dst6(uint32_t addr_be) { return widen(addr_be, 0xff, 0x3e); }
mcr::Ipv6Addr src6(uint32_t addr_be) { return widen(addr_be, 0xfd, 0x00); }
struct Model {
  std::map<uint32_t, Spec> by_id;
  std::map<Key, uint32_t> by_key;

  bool taken(uint32_t id, const Spec& s) const { return by_id.count(id) != 0 || by_key.count(Key{s.family, s.dst, s.port, s.src}) != 0; }
  void add(uint32_t id, const Spec& s) {
    by_id.emplace(id, s);
    by_key.emplace(Key{s.family, s.dst, s.port, s.src}, id);
  }
  void remove(uint32_t id) {
    const Spec& s = by_id.at(id);
    by_key.erase(Key{s.family, s.dst, s.port, s.src});
    by_id.erase(id);
  }
  // The precedence of rule_table.h / wildcard_rules.h for what this
  // harness builds (exact groups; port 0 is "any port"): the exact source
  // before any source, then the exact port before any port.
  const uint32_t* match(int family, uint32_t dst, uint16_t port, uint32_t src) const {
    for (const Key& k : {Key{family, dst, port, src}, Key{family, dst, 0, src}, Key{family, dst, port, 0}, Key{family, dst, 0, 0}}) {
      auto it = by_key.find(k);
      if (it != by_key.end()) return &it->second;
    }
    return nullptr;
  }
};

void check_rule(const Rule* r, uint32_t id, const Spec& s) {
  FUZZ_CHECK(r != nullptr);
  FUZZ_CHECK(r->id == id && r->family == s.family && r->dst_port == s.port);
  if (s.family == 4) {
    FUZZ_CHECK(r->dst_addr == s.dst && r->src_addr == s.src);
  } else {
    FUZZ_CHECK(r->dst6 == dst6(s.dst) && r->src6 == src6(s.src));
  }
  FUZZ_CHECK(r->outputs.size() == s.outputs);
  FUZZ_CHECK(r->open_batch == UINT32_MAX && !r->open_listed);  // the table never touches loop scratch state
}

void check_match(const RuleTable& table, const Model& model, int family, uint32_t dst, uint16_t port, uint32_t src) {
  const mcr::Ipv6Addr d6 = dst6(dst);
  const mcr::Ipv6Addr s6 = src6(src);
  const Rule* got = family == 4 ? table.match(dst, port, src) : table.match6(d6.b, port, s6.b);
  const uint32_t* want = model.match(family, dst, port, src);
  if (want == nullptr) {
    FUZZ_CHECK(got == nullptr);
    return;
  }
  check_rule(got, *want, model.by_id.at(*want));
  FUZZ_CHECK(table.find(*want) == got);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteReader in(data, size);
  RuleTable table;
  Model model;
  uint32_t next_slot = 1;
  int verifies = 0;
  while (!in.empty()) {
    const uint8_t op = in.u8() % 8;
    switch (op) {
      case 0:
      case 6: {
        const uint32_t id = read_id(in);
        Spec s;
        s.family = op == 6 ? 6 : 4;
        s.dst = read_addr(in);
        s.port = read_port(in);
        s.src = read_addr(in);
        s.outputs = in.u8() % 3;
        auto rule = std::make_unique<Rule>();
        rule->id = id;
        rule->slot = next_slot++;
        rule->family = static_cast<uint8_t>(s.family);
        rule->dst_port = s.port;
        if (s.family == 4) {
          rule->dst_addr = s.dst;
          rule->src_addr = s.src;
        } else {
          rule->dst6 = dst6(s.dst);
          rule->src6 = src6(s.src);
        }
        for (size_t i = 0; i < s.outputs; ++i) {
          auto out = std::make_unique<mcr::Output>();  // fd -1: nothing to close
          out->slot = next_slot++;
          rule->outputs.push_back(std::move(out));
        }
        const Rule* raw = rule.get();
        const bool taken = model.taken(id, s);
        const int rc = table.add(rule);
        if (taken) {
          FUZZ_CHECK(rc == -EEXIST);
          FUZZ_CHECK(rule.get() == raw);  // left with the caller
        } else {
          FUZZ_CHECK(rc == 0);
          FUZZ_CHECK(rule == nullptr);
          FUZZ_CHECK(table.find(id) == raw);
          model.add(id, s);
        }
        break;
      }
      case 1: {
        const uint32_t id = read_id(in);
        std::unique_ptr<Rule> removed = table.remove(id);
        auto it = model.by_id.find(id);
        if (it == model.by_id.end()) {
          FUZZ_CHECK(removed == nullptr);
        } else {
          check_rule(removed.get(), id, it->second);
          const Spec gone = it->second;
          model.remove(id);
          FUZZ_CHECK(table.find(id) == nullptr);
          check_match(table, model, gone.family, gone.dst, gone.port, gone.src);  // now the any-source rule, or nothing
        }
        break;
      }
      case 2:
      case 7: {
        const uint32_t dst = read_addr(in);
        const uint16_t port = read_port(in);
        const uint32_t src = read_addr(in);
        check_match(table, model, op == 7 ? 6 : 4, dst, port, src);
        break;
      }
      case 3: {
        const uint32_t id = read_id(in);
        const Rule* r = table.find(id);
        auto it = model.by_id.find(id);
        if (it == model.by_id.end()) {
          FUZZ_CHECK(r == nullptr);
        } else {
          check_rule(r, id, it->second);
        }
        break;
      }
      case 4: {
        std::vector<std::unique_ptr<Rule>> all = table.take_all();
        FUZZ_CHECK(all.size() == model.by_id.size());
        std::map<uint32_t, Spec> seen;
        for (const auto& r : all) {
          FUZZ_CHECK(r != nullptr);
          auto it = model.by_id.find(r->id);
          FUZZ_CHECK(it != model.by_id.end());
          check_rule(r.get(), r->id, it->second);
          FUZZ_CHECK(seen.emplace(r->id, it->second).second);  // each rule once
        }
        model = Model{};
        FUZZ_CHECK(table.size() == 0);
        break;
      }
      case 5:
        // Quadratic in a bucket's size (match scans it), so at most 16 per input.
        if (++verifies > 16) break;
        for (const auto& [id, s] : model.by_id) {
          check_rule(table.find(id), id, s);
          check_match(table, model, s.family, s.dst, s.port, s.src);
          check_match(table, model, s.family, s.dst, s.port, s.src ^ 0x01000000);  // another source
          check_match(table, model, s.family, s.dst, s.port, 0);
          check_match(table, model, 10 - s.family, s.dst, s.port, s.src);  // the other family: its own rules only
        }
        break;
    }
    FUZZ_CHECK(table.size() == model.by_id.size());
  }
  return 0;
}
