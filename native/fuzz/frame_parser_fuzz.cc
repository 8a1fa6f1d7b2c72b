// libFuzzer harness for mcr::parse_frame (native/core/frame_parser.cc), the
// code that reads every captured frame. The input is one captured frame.
// Checked for every input, besides what ASan/UBSan catch:
//  - the verdict equals an independent reference decoder written from the
//    header's contract (Ethernet II + at most one 802.1Q/802.1ad tag, IPv4
//    with IHL options, no fragments, UDP; the IP total length is
//    authoritative, the UDP length must fit in it; or IPv6 with its
//    hop-by-hop, routing, destination-options and fragment headers walked,
//    a fragmented datagram dropped, the payload length authoritative);
//  - an accepted datagram's payload lies within the captured bytes, after
//    at least the three headers, and every field matches the reference;
//  - the same bytes at a misaligned address give the same verdict;
//  - trailing bytes (Ethernet padding) never change an accepted datagram,
//    and cutting the capture one byte short of the payload's end never
//    yields a datagram.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/frame_parser.h"
#include "fuzz/fuzz_support.h"

namespace {

using mcr::Datagram;
using mcr::DropReason;
using mcrfuzz::ExactCopy;

struct Expected {
  DropReason reason = DropReason::none;
  size_t payload_offset = 0;
  size_t payload_len = 0;
  uint16_t vlan_id = 0;
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  size_t ip_offset = 0;
  int family = 4;
};

Expected reference6(const uint8_t* f, size_t n, size_t l3, Expected e) {
  auto get16 = [f](size_t at) { return static_cast<size_t>(f[at]) * 256 + f[at + 1]; };
  auto drop = [&e](DropReason r) {
    e.reason = r;
    return e;
  };
  if (n < l3 + 40) return drop(DropReason::bad_ipv6_header);
  if (f[l3] / 16 != 6) return drop(DropReason::not_ipv4);
  const size_t plen = get16(l3 + 4);
  if (plen == 0 || l3 + 40 + plen > n) return drop(DropReason::bad_ip_length);
  const size_t end = l3 + 40 + plen;
  size_t at = l3 + 40;
  size_t next = f[l3 + 6];
  while (next != 17) {
    if (next != 0 && next != 43 && next != 44 && next != 60) return drop(DropReason::not_udp);
    if (end - at < 8) return drop(DropReason::bad_ipv6_header);
    if (next == 44) {
      const size_t off_flags = get16(at + 2);
      if (off_flags / 8 != 0 || off_flags % 2 != 0) return drop(DropReason::ipv6_fragment);
      next = f[at];
      at += 8;
      continue;
    }
    const size_t len = (f[at + 1] + 1) * 8;
    if (len > end - at) return drop(DropReason::bad_ipv6_header);
    next = f[at];
    at += len;
  }
  if (end - at < 8) return drop(DropReason::bad_udp_length);
  const size_t udp_len = get16(at + 4);
  if (udp_len < 8 || udp_len > end - at) return drop(DropReason::bad_udp_length);
  e.family = 6;
  e.ip_offset = l3;
  e.src_port = static_cast<uint16_t>(get16(at));
  e.dst_port = static_cast<uint16_t>(get16(at + 2));
  e.payload_offset = at + 8;
  e.payload_len = udp_len - 8;
  return e;
}

Expected reference(const uint8_t* f, size_t n) {
  auto get16 = [f](size_t at) { return static_cast<size_t>(f[at]) * 256 + f[at + 1]; };
  Expected e;
  auto drop = [&e](DropReason r) {
    e.reason = r;
    return e;
  };
  if (n < 14) return drop(DropReason::short_ethernet);
  size_t l3 = 14;
  size_t type = get16(12);
  if (type == 0x8100 || type == 0x88a8) {
    if (n < 18) return drop(DropReason::short_ethernet);
    e.vlan_id = static_cast<uint16_t>(get16(14) % 4096);
    type = get16(16);
    l3 = 18;
  }
  if (type == 0x86dd) return reference6(f, n, l3, e);
  if (type != 0x0800) return drop(DropReason::not_ipv4);
  if (n < l3 + 20) return drop(DropReason::bad_ihl);
  if (f[l3] / 16 != 4) return drop(DropReason::not_ipv4);
  const size_t ihl = (f[l3] % 16) * 4;
  if (ihl < 20 || l3 + ihl > n) return drop(DropReason::bad_ihl);
  const size_t total = get16(l3 + 2);
  if (total < ihl || l3 + total > n) return drop(DropReason::bad_ip_length);
  const size_t frag = get16(l3 + 6);
  const bool more_fragments = (frag / 0x2000) % 2 == 1;
  const size_t fragment_offset = frag % 0x2000;
  if (more_fragments || fragment_offset != 0) return drop(DropReason::fragment);
  if (f[l3 + 9] != 17) return drop(DropReason::not_udp);
  if (total - ihl < 8) return drop(DropReason::bad_udp_length);
  const size_t l4 = l3 + ihl;
  const size_t udp_len = get16(l4 + 4);
  if (udp_len < 8 || udp_len > total - ihl) return drop(DropReason::bad_udp_length);
  e.ip_offset = l3;
  e.src_port = static_cast<uint16_t>(get16(l4));
  e.dst_port = static_cast<uint16_t>(get16(l4 + 2));
  e.payload_offset = l4 + 8;
  e.payload_len = udp_len - 8;
  return e;
}

// Parses an exact-size copy of data[0, n) placed `shift` bytes into its
// block; the payload comes back as an offset, since the copy is freed.
DropReason parse_copy(const uint8_t* data, size_t n, size_t shift, Datagram* out, size_t* payload_offset) {
  ExactCopy copy(data, n, shift);
  const DropReason r = mcr::parse_frame(copy.data(), n, out);
  *payload_offset = r == DropReason::none ? static_cast<size_t>(out->payload - copy.data()) : 0;
  out->payload = nullptr;
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Expected want = reference(data, size);

  // The input as libFuzzer hands it over: an exact-size heap block.
  Datagram d{};
  const DropReason got = mcr::parse_frame(data, size, &d);
  FUZZ_CHECK(got < DropReason::count_);
  FUZZ_CHECK(got != DropReason::oversize);  // only the loop sets that
  FUZZ_CHECK(std::strcmp(mcr::drop_reason_name(got), "unknown") != 0);
  FUZZ_CHECK(got == want.reason);
  if (got == DropReason::none) {
    FUZZ_CHECK(d.payload >= data + 14 + 20 + 8);
    FUZZ_CHECK(d.payload <= data + size);
    FUZZ_CHECK(d.payload_len <= static_cast<size_t>(data + size - d.payload));
    FUZZ_CHECK(static_cast<size_t>(d.payload - data) == want.payload_offset);
    FUZZ_CHECK(d.payload_len == want.payload_len);
    FUZZ_CHECK(d.vlan_id == want.vlan_id);
    FUZZ_CHECK(d.vlan_id <= 0x0fff);
    FUZZ_CHECK(d.src_port == want.src_port);
    FUZZ_CHECK(d.dst_port == want.dst_port);
    FUZZ_CHECK(d.family == want.family);
    if (want.family == 4) {
      FUZZ_CHECK(std::memcmp(&d.src_addr, data + want.ip_offset + 12, 4) == 0);
      FUZZ_CHECK(std::memcmp(&d.dst_addr, data + want.ip_offset + 16, 4) == 0);
    } else {
      FUZZ_CHECK(d.src6 == data + want.ip_offset + 8);
      FUZZ_CHECK(d.dst6 == data + want.ip_offset + 24);
    }
  }

  // The same bytes one byte off alignment.
  Datagram shifted{};
  size_t shifted_offset = 0;
  const DropReason got_shifted = parse_copy(data, size, 1, &shifted, &shifted_offset);
  FUZZ_CHECK(got_shifted == got);
  if (got == DropReason::none) {
    FUZZ_CHECK(shifted_offset == want.payload_offset);
    FUZZ_CHECK(shifted.payload_len == d.payload_len);
    FUZZ_CHECK(shifted.family == d.family);
    if (d.family == 4) FUZZ_CHECK(shifted.src_addr == d.src_addr && shifted.dst_addr == d.dst_addr);
  }

  if (got == DropReason::none) {
    // Padding after the datagram changes nothing.
    static constexpr size_t kPad = 7;
    uint8_t* longer = new uint8_t[size + kPad];
    std::memcpy(longer, data, size);
    std::memset(longer + size, 0xa5, kPad);
    Datagram p{};
    FUZZ_CHECK(mcr::parse_frame(longer, size + kPad, &p) == DropReason::none);
    FUZZ_CHECK(static_cast<size_t>(p.payload - longer) == want.payload_offset);
    FUZZ_CHECK(p.payload_len == d.payload_len && p.family == d.family &&
               p.src_port == d.src_port && p.dst_port == d.dst_port && p.vlan_id == d.vlan_id);
    if (d.family == 4) FUZZ_CHECK(p.src_addr == d.src_addr && p.dst_addr == d.dst_addr);
    delete[] longer;

    // One byte short of the payload's end is never a datagram.
    const size_t end = want.payload_offset + want.payload_len;
    Datagram cut{};
    size_t cut_offset = 0;
    FUZZ_CHECK(parse_copy(data, end - 1, 0, &cut, &cut_offset) != DropReason::none);
  }
  return 0;
}
