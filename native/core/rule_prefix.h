// Address prefixes of rules that match more than one exact stream: a source
// prefix or list entry, an input group prefix, and the per-datagram rewrite
// of an output that keeps the datagram's group or maps it into another
// prefix of the same length. Addresses are kept as the bytes the frame
// carries (network order: 4 for IPv4, 16 for IPv6) so one comparison serves
// both families. Pure functions, no state: native/tests/rule_prefix_test.cc.
#pragma once
#include <cstdint>
#include <cstring>

namespace mcr {

// An address prefix. len 0 with an all-zero address is "any".
struct Prefix {
  uint8_t b[16] = {};
  uint8_t len = 0;
  bool operator==(const Prefix& o) const { return len == o.len && std::memcmp(b, o.b, 16) == 0; }
};

// Whether `addr` (4 or 16 bytes, as `bytes` says) lies in `p`. The prefix's
// host bits are zero (rule_from_js refuses others), so comparing the
// covered bytes and the masked partial byte is enough.
inline bool prefix_contains(const Prefix& p, const uint8_t* addr) {
  const uint32_t whole = p.len / 8;
  if (whole != 0 && std::memcmp(p.b, addr, whole) != 0) return false;
  const uint32_t rest = p.len % 8;
  if (rest == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xff00u >> rest);
  return (addr[whole] & mask) == p.b[whole];
}

// Keeps the top `len` bits of `base` and the rest of `addr`, into `out`
// (`bytes` long): 239.9.0.0/16 and 239.1.2.3 give 239.9.2.3.
inline void prefix_map(const uint8_t* base, uint32_t len, const uint8_t* addr, uint8_t* out, uint32_t bytes) {
  for (uint32_t i = 0; i < bytes; ++i) {
    const uint32_t bit = i * 8;
    uint8_t keep;  // bits of `base` kept in this byte
    if (bit + 8 <= len) keep = 0xff;
    else if (bit >= len) keep = 0;
    else keep = static_cast<uint8_t>(0xff00u >> (len - bit));
    out[i] = static_cast<uint8_t>((base[i] & keep) | (addr[i] & ~keep));
  }
}

// Zeroes the host bits past `len`; true when none was set (a canonical prefix).
inline bool prefix_clear_host_bits(Prefix* p, uint32_t bytes) {
  bool clean = true;
  for (uint32_t i = 0; i < bytes; ++i) {
    const uint32_t bit = i * 8;
    uint8_t keep;
    if (bit + 8 <= p->len) keep = 0xff;
    else if (bit >= p->len) keep = 0;
    else keep = static_cast<uint8_t>(0xff00u >> (p->len - bit));
    if ((p->b[i] & ~keep) != 0) clean = false;
    p->b[i] &= keep;
  }
  return clean;
}

}  // namespace mcr
