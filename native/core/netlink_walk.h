// Walking a NETLINK_ROUTE receive buffer: its messages (nlmsghdr), an
// NLMSG_ERROR's errno, and a message's attributes (rtattr); shared by the
// interface parser (netlink_parser.cc) and the qdisc reader
// (interface_drops.cc). Headers are copied out with memcpy rather than cast in
// place: a buffer from a test (or a truncated message) need not be aligned.
// Every length is checked against the buffer: a message or an attribute
// that does not fit stops its walk, and the caller counts it as malformed.
#pragma once
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace mcr {

constexpr size_t nl_align4(size_t n) { return (n + 3u) & ~size_t{3}; }

// Calls fn(header, body, body_len) for every whole message in [data,
// data+len); returns false when the buffer could not be framed to its end
// (a length that lies, or a tail too short for a header): one malformed.
template <typename Fn>
bool for_each_message(const uint8_t* data, size_t len, Fn fn) {
  size_t off = 0;
  while (off + sizeof(nlmsghdr) <= len) {
    nlmsghdr h;
    std::memcpy(&h, data + off, sizeof(h));
    if (h.nlmsg_len < sizeof(nlmsghdr) || h.nlmsg_len > len - off) return false;
    fn(h, data + off + sizeof(nlmsghdr), static_cast<size_t>(h.nlmsg_len - sizeof(nlmsghdr)));
    off += nl_align4(h.nlmsg_len);
  }
  // The last message may end unpadded (off past len); bytes left that no header fits are not.
  return off >= len;
}

// An NLMSG_ERROR body's errno (negative, 0 for an ack); false when it is too short.
inline bool message_error(const uint8_t* body, size_t len, int* err) {
  if (len < sizeof(int)) return false;
  std::memcpy(err, body, sizeof(int));
  return true;
}

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
