// Builds Ethernet/IPv4/UDP frames byte by byte for the frame parser tests.
// Every field the parser looks at can be set to a lying value (IHL, total
// length, UDP length, flags, EtherType, version), so each drop reason can be
// reached from an otherwise well-formed frame. Defaults describe a valid
// multicast datagram; lengths left unset are computed from what is written.
// Header-only because binding.gyp lists the test sources explicitly.
#pragma once
#include <arpa/inet.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace mcrtest {

constexpr uint16_t kEtherIpv4 = 0x0800;
constexpr uint16_t kEtherArp = 0x0806;
constexpr uint16_t kEtherIpv6 = 0x86dd;
constexpr uint16_t kTpid8021Q = 0x8100;
constexpr uint16_t kTpid8021ad = 0x88a8;
constexpr uint8_t kProtoIcmp = 1;
constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;

// Host-order IPv4 address from dotted parts, for readable test data.
constexpr uint32_t ipv4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return (uint32_t{a} << 24) | (uint32_t{b} << 16) | (uint32_t{c} << 8) | d;
}

struct VlanTag {
  uint16_t tpid = kTpid8021Q;
  uint16_t tci = 0;  // PCP(3) DEI(1) VID(12)
};

struct FrameSpec {
  uint8_t dst_mac[6] = {0x01, 0x00, 0x5e, 0x01, 0x02, 0x03};
  uint8_t src_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
  std::vector<VlanTag> tags;  // outermost first; usually zero or one
  uint16_t ether_type = kEtherIpv4;

  uint8_t ip_version = 4;
  uint8_t ihl = 5;  // 32-bit words; the header written is max(ihl, 5) words, options are NOPs
  std::optional<uint16_t> ip_total_length;  // default: header + UDP header + payload
  uint16_t flags_fragment = 0x4000;          // DF set, as most senders do
  uint8_t ttl = 16;
  uint8_t protocol = kProtoUdp;
  uint32_t src_addr = ipv4(10, 1, 0, 7);      // host order
  uint32_t dst_addr = ipv4(239, 10, 20, 30);  // host order

  uint16_t src_port = 40000;
  uint16_t dst_port = 5004;
  std::optional<uint16_t> udp_length;  // default: 8 + payload
  bool write_udp_header = true;        // false: frame ends after the IP header (+ payload)
  std::vector<uint8_t> payload;

  size_t pad_to = 0;  // zero bytes appended until the frame has this many (Ethernet min: 60)
};

// Offset of the IP header in a frame built from `spec`.
inline size_t ip_offset(const FrameSpec& spec) { return 14 + 4 * spec.tags.size(); }
inline size_t ip_header_bytes(const FrameSpec& spec) { return size_t{spec.ihl < 5 ? 5u : spec.ihl} * 4; }
// Offset of the UDP payload (assuming the UDP header is written).
inline size_t payload_offset(const FrameSpec& spec) { return ip_offset(spec) + ip_header_bytes(spec) + 8; }

inline void put16(std::vector<uint8_t>& f, uint16_t v) {
  f.push_back(static_cast<uint8_t>(v >> 8));
  f.push_back(static_cast<uint8_t>(v));
}
inline void put32(std::vector<uint8_t>& f, uint32_t v) {
  put16(f, static_cast<uint16_t>(v >> 16));
  put16(f, static_cast<uint16_t>(v));
}

inline std::vector<uint8_t> build_frame(const FrameSpec& spec) {
  std::vector<uint8_t> f;
  f.insert(f.end(), spec.dst_mac, spec.dst_mac + 6);
  f.insert(f.end(), spec.src_mac, spec.src_mac + 6);
  for (const VlanTag& tag : spec.tags) {
    put16(f, tag.tpid);
    put16(f, tag.tci);
  }
  put16(f, spec.ether_type);

  const size_t header = ip_header_bytes(spec);
  const size_t udp_bytes = (spec.write_udp_header ? 8 : 0) + spec.payload.size();
  const uint16_t total = spec.ip_total_length.value_or(static_cast<uint16_t>(header + udp_bytes));
  f.push_back(static_cast<uint8_t>((spec.ip_version << 4) | (spec.ihl & 0x0f)));
  f.push_back(0);  // DSCP/ECN
  put16(f, total);
  put16(f, 0x1234);  // identification
  put16(f, spec.flags_fragment);
  f.push_back(spec.ttl);
  f.push_back(spec.protocol);
  put16(f, 0);  // checksum: the parser does not verify it (the NIC or kernel did)
  put32(f, spec.src_addr);
  put32(f, spec.dst_addr);
  f.insert(f.end(), header - 20, uint8_t{1});  // IP options: NOP (RFC 791)

  if (spec.write_udp_header) {
    put16(f, spec.src_port);
    put16(f, spec.dst_port);
    put16(f, spec.udp_length.value_or(static_cast<uint16_t>(8 + spec.payload.size())));
    put16(f, 0);  // checksum 0: none (RFC 768)
  }
  f.insert(f.end(), spec.payload.begin(), spec.payload.end());
  if (f.size() < spec.pad_to) f.resize(spec.pad_to, 0);
  return f;
}

// A payload whose bytes depend on their position, so a wrong offset shows.
inline std::vector<uint8_t> pattern_payload(size_t len) {
  std::vector<uint8_t> p(len);
  for (size_t i = 0; i < len; ++i) p[i] = static_cast<uint8_t>(i * 7 + 3);
  return p;
}

}  // namespace mcrtest
