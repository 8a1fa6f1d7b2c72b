// A hand-built rtnetlink message for the native tests of the netlink
// parsers (netlink_parser_test.cc, interface_drops_test.cc): a header, a fixed
// body, attributes padded to 4 bytes (nested ones with rtattr_bytes), and
// nlmsg_len filled in by done(); and parse_exact, the parse of a prefix
// from an exact-size copy.
#pragma once
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

namespace mcrtest {

// One attribute as bytes, padded: the payload of a nested attribute is a
// run of these.
inline std::vector<uint8_t> rtattr_bytes(uint16_t type, const void* p, size_t n) {
  rtattr a{};
  a.rta_type = type;
  a.rta_len = static_cast<uint16_t>(sizeof(rtattr) + n);
  std::vector<uint8_t> out(sizeof(a) + n);
  std::memcpy(out.data(), &a, sizeof(a));
  if (n != 0) std::memcpy(out.data() + sizeof(a), p, n);
  while (out.size() % 4 != 0) out.push_back(0);
  return out;
}

class NetlinkMessage {
 public:
  explicit NetlinkMessage(uint16_t type, uint16_t flags = 0, uint32_t seq = 0) {
    nlmsghdr h{};
    h.nlmsg_type = type;
    h.nlmsg_flags = flags;
    h.nlmsg_seq = seq;
    put(&h, sizeof(h));
  }
  NetlinkMessage& put(const void* p, size_t n) {
    // resize + memcpy: GCC 12 warns falsely (-Wstringop-overflow) on insert here.
    const size_t at = bytes_.size();
    bytes_.resize(at + n);
    if (n != 0) std::memcpy(bytes_.data() + at, p, n);
    return *this;
  }
  NetlinkMessage& pad() {
    while (bytes_.size() % 4 != 0) bytes_.push_back(0);
    return *this;
  }
  NetlinkMessage& attr(uint16_t type, const void* p, size_t n) {
    rtattr a{};
    a.rta_type = type;
    a.rta_len = static_cast<uint16_t>(sizeof(rtattr) + n);
    put(&a, sizeof(a)).put(p, n);
    return pad();
  }
  NetlinkMessage& attr(uint16_t type, const std::string& s) { return attr(type, s.c_str(), s.size() + 1); }
  std::vector<uint8_t> done() const {
    std::vector<uint8_t> out = bytes_;
    const auto len = static_cast<uint32_t>(out.size());
    std::memcpy(out.data(), &len, sizeof(len));  // nlmsg_len is the first field
    return out;
  }

 private:
  std::vector<uint8_t> bytes_;
};

// Messages one after the other, as one receive buffer.
inline std::vector<uint8_t> concat(std::initializer_list<std::vector<uint8_t>> parts) {
  std::vector<uint8_t> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// parse(data, len) over an exact-size heap copy of buf's first len bytes,
// so that AddressSanitizer sees a read past len (the vector's capacity, or
// the rest of the buffer, would hide it); what parse returns.
template <typename Parse>
auto parse_exact(const std::vector<uint8_t>& buf, size_t len, Parse parse) {
  auto copy = std::make_unique_for_overwrite<uint8_t[]>(len == 0 ? 1 : len);
  if (len != 0) std::memcpy(copy.get(), buf.data(), len);
  return parse(copy.get(), len);
}

}  // namespace mcrtest
