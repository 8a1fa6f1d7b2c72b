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

// An IPv6 frame: the fixed header, extension headers in order (each given
// whole, next-header byte included; build_frame6 fills that byte in), then
// UDP unless the chain's last header says otherwise.
struct Ipv6Ext {
  uint8_t type = 0;              // 0 hop-by-hop, 43 routing, 44 fragment, 60 destination options, ...
  std::vector<uint8_t> bytes;    // the whole header, its first byte overwritten with the next header
};

struct FrameSpec6 {
  std::vector<VlanTag> tags;
  uint8_t version = 6;
  std::optional<uint16_t> payload_length;  // default: extension headers + UDP header + payload
  uint8_t hop_limit = 16;
  uint8_t src[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7};
  uint8_t dst[16] = {0xff, 0x3e, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34};
  std::vector<Ipv6Ext> ext;
  uint8_t last_next_header = kProtoUdp;  // what the last header (fixed or extension) names next
  uint16_t src_port = 40000;
  uint16_t dst_port = 5004;
  std::optional<uint16_t> udp_length;
  std::vector<uint8_t> payload;
  size_t pad_to = 0;
};

// An extension header of `len8` 8-byte units (hop-by-hop, routing, destination options: length byte = units - 1).
inline Ipv6Ext ipv6_ext(uint8_t type, size_t units) {
  Ipv6Ext e;
  e.type = type;
  e.bytes.assign(units * 8, 0);
  e.bytes[1] = static_cast<uint8_t>(units - 1);
  if (units * 8 > 2) e.bytes[2] = 1;  // PadN option start, contents do not matter to the parser
  return e;
}

// A fragment header: offset in 8-byte units, M flag.
inline Ipv6Ext ipv6_fragment(uint16_t offset, bool more) {
  Ipv6Ext e;
  e.type = 44;
  e.bytes.assign(8, 0);
  const uint16_t off_flags = static_cast<uint16_t>((offset << 3) | (more ? 1 : 0));
  e.bytes[2] = static_cast<uint8_t>(off_flags >> 8);
  e.bytes[3] = static_cast<uint8_t>(off_flags);
  e.bytes[4] = 0xab;  // identification
  return e;
}

inline size_t ip6_offset(const FrameSpec6& spec) { return 14 + 4 * spec.tags.size(); }
inline size_t payload6_offset(const FrameSpec6& spec) {
  size_t off = ip6_offset(spec) + 40;
  for (const Ipv6Ext& e : spec.ext) off += e.bytes.size();
  return off + 8;
}

inline std::vector<uint8_t> build_frame6(const FrameSpec6& spec) {
  std::vector<uint8_t> f = {0x33, 0x33, 0, 0, 0x12, 0x34, 0x02, 0, 0, 0, 0, 1};
  for (const VlanTag& tag : spec.tags) {
    put16(f, tag.tpid);
    put16(f, tag.tci);
  }
  put16(f, kEtherIpv6);
  size_t ext_bytes = 0;
  for (const Ipv6Ext& e : spec.ext) ext_bytes += e.bytes.size();
  const uint16_t plen = spec.payload_length.value_or(static_cast<uint16_t>(ext_bytes + 8 + spec.payload.size()));
  f.push_back(static_cast<uint8_t>(spec.version << 4));
  f.insert(f.end(), {0, 0, 0});  // traffic class, flow label
  put16(f, plen);
  f.push_back(spec.ext.empty() ? spec.last_next_header : spec.ext[0].type);
  f.push_back(spec.hop_limit);
  f.insert(f.end(), spec.src, spec.src + 16);
  f.insert(f.end(), spec.dst, spec.dst + 16);
  for (size_t i = 0; i < spec.ext.size(); ++i) {
    std::vector<uint8_t> h = spec.ext[i].bytes;
    h[0] = i + 1 < spec.ext.size() ? spec.ext[i + 1].type : spec.last_next_header;
    f.insert(f.end(), h.begin(), h.end());
  }
  put16(f, spec.src_port);
  put16(f, spec.dst_port);
  put16(f, spec.udp_length.value_or(static_cast<uint16_t>(8 + spec.payload.size())));
  put16(f, 0x1234);  // checksum: not verified by the parser
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
