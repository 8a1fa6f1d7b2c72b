// Walking rtnetlink attributes (rtattr) over a byte buffer, shared by the
// interface parser (netlink_parser.cc) and the qdisc reader
// (qdisc_stats.cc). Headers are copied out with memcpy rather than cast in
// place: a buffer from a test (or a truncated message) need not be aligned.
// Every length is checked against the buffer: an attribute that does not
// fit stops the walk, and the caller counts the message as malformed.
#pragma once
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace mcr {

constexpr size_t nl_align4(size_t n) { return (n + 3u) & ~size_t{3}; }

// Calls fn(type, payload, payload_len) for every attribute in [p, p+len);
// returns false if one did not fit (the rest is skipped).
template <typename Fn>
bool for_each_attr(const uint8_t* p, size_t len, Fn fn) {
  size_t off = 0;
  while (off + sizeof(rtattr) <= len) {
    rtattr a;
    std::memcpy(&a, p + off, sizeof(a));
    if (a.rta_len < sizeof(rtattr) || a.rta_len > len - off) return false;
    fn(static_cast<uint16_t>(a.rta_type & NLA_TYPE_MASK), p + off + sizeof(rtattr), a.rta_len - sizeof(rtattr));
    off += nl_align4(a.rta_len);
  }
  return true;
}

// A string attribute: up to the first NUL, never past the attribute.
inline std::string attr_string(const uint8_t* p, size_t len) {
  const void* nul = std::memchr(p, 0, len);
  return std::string(reinterpret_cast<const char*>(p), nul ? static_cast<const uint8_t*>(nul) - p : len);
}

}  // namespace mcr
