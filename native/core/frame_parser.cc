// Frame parser implementation. Reads fields byte by byte (no unaligned casts)
// because frames sit at arbitrary offsets inside provided buffers.
#include "core/frame_parser.h"

namespace mcr {
namespace {

constexpr size_t kEthHeader = 14;
constexpr size_t kVlanTag = 4;
constexpr uint16_t kEtherIpv4 = 0x0800;
constexpr uint16_t kEtherIpv6 = 0x86dd;
constexpr uint16_t kEtherVlan = 0x8100;
constexpr uint16_t kEtherQinQ = 0x88a8;
constexpr uint8_t kProtoUdp = 17;
constexpr size_t kIpv6Header = 40;
// IPv6 extension headers the parser walks (RFC 8200 4.1; IANA "IPv6
// Extension Header Types"): the ones a UDP datagram may carry in front of it.
constexpr uint8_t kExtHopByHop = 0;
constexpr uint8_t kExtRouting = 43;
constexpr uint8_t kExtFragment = 44;
constexpr uint8_t kExtDestOpts = 60;

inline uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline uint32_t raw32(const uint8_t* p) {
  // Kept in network byte order: addresses are compared, never interpreted.
  uint32_t v;
  __builtin_memcpy(&v, p, 4);
  return v;
}

}  // namespace

const char* drop_reason_name(DropReason reason) {
  switch (reason) {
    case DropReason::none: return "none";
    case DropReason::short_ethernet: return "short_ethernet";
    case DropReason::not_ipv4: return "not_ipv4";
    case DropReason::bad_ihl: return "bad_ihl";
    case DropReason::bad_ip_length: return "bad_ip_length";
    case DropReason::fragment: return "fragment";
    case DropReason::not_udp: return "not_udp";
    case DropReason::bad_udp_length: return "bad_udp_length";
    case DropReason::oversize: return "oversize";
    case DropReason::ipv6_fragment: return "ipv6_fragment";
    case DropReason::bad_ipv6_header: return "bad_ipv6_header";
    case DropReason::count_: break;
  }
  return "unknown";
}

namespace {

// The UDP header at `udp` with `avail` bytes of IP payload left: the checks
// and fields both families share.
inline DropReason take_udp(const uint8_t* udp, size_t avail, uint16_t vlan_id, Datagram* out) {
  if (avail < 8) return DropReason::bad_udp_length;
  const size_t udp_len = be16(udp + 4);
  if (udp_len < 8 || udp_len > avail) return DropReason::bad_udp_length;
  out->src_port = be16(udp);
  out->dst_port = be16(udp + 2);
  out->vlan_id = vlan_id;
  out->payload = udp + 8;
  out->payload_len = static_cast<uint32_t>(udp_len - 8);
  return DropReason::none;
}

// IPv6 from the fixed header on. Out of line so the IPv4 path of
// parse_frame stays as it was (one compare more, on the EtherType).
[[gnu::noinline]] DropReason parse_ipv6(const uint8_t* ip, size_t ip_avail, uint16_t vlan_id, Datagram* out) {
  if (ip_avail < kIpv6Header) return DropReason::bad_ipv6_header;
  if ((ip[0] >> 4) != 6) return DropReason::not_ipv4;
  const size_t payload_len = be16(ip + 4);
  // 0 is a jumbogram (RFC 2675, hop-by-hop Jumbo Payload): not on a link
  // with an MTU a relay receives from, and not handled.
  if (payload_len == 0 || payload_len > ip_avail - kIpv6Header) return DropReason::bad_ip_length;
  const uint8_t* p = ip + kIpv6Header;
  size_t left = payload_len;  // bytes from p to the end of the datagram
  uint8_t next = ip[6];
  // Each header is at least 8 bytes, so the walk ends within payload_len / 8 steps.
  while (next != kProtoUdp) {
    if (next == kExtFragment) {
      if (left < 8) return DropReason::bad_ipv6_header;
      const uint16_t off_flags = be16(p + 2);
      // Offset (13 bits) non-zero or M set: a piece of a datagram.
      if ((off_flags & 0xfff9) != 0) return DropReason::ipv6_fragment;
      next = p[0];
      p += 8;
      left -= 8;
      continue;
    }
    if (next != kExtHopByHop && next != kExtRouting && next != kExtDestOpts) return DropReason::not_udp;
    if (left < 8) return DropReason::bad_ipv6_header;
    const size_t len = (static_cast<size_t>(p[1]) + 1) * 8;
    if (len > left) return DropReason::bad_ipv6_header;
    next = p[0];
    p += len;
    left -= len;
  }
  out->family = 6;
  out->src6 = ip + 8;
  out->dst6 = ip + 24;
  return take_udp(p, left, vlan_id, out);
}

}  // namespace

DropReason parse_frame(const uint8_t* frame, size_t captured, Datagram* out) {
  if (captured < kEthHeader) return DropReason::short_ethernet;
  size_t offset = 12;
  uint16_t ether_type = be16(frame + offset);
  uint16_t vlan_id = 0;
  if (ether_type == kEtherVlan || ether_type == kEtherQinQ) {
    if (captured < kEthHeader + kVlanTag) return DropReason::short_ethernet;
    vlan_id = be16(frame + 14) & 0x0fff;
    offset += kVlanTag;
    ether_type = be16(frame + offset);
  }
  offset += 2;  // past the EtherType: start of the IP header
  if (ether_type != kEtherIpv4) {
    if (ether_type == kEtherIpv6) return parse_ipv6(frame + offset, captured - offset, vlan_id, out);
    return DropReason::not_ipv4;
  }

  const size_t ip_avail = captured - offset;
  if (ip_avail < 20) return DropReason::bad_ihl;
  const uint8_t* ip = frame + offset;
  if ((ip[0] >> 4) != 4) return DropReason::not_ipv4;
  const size_t ihl = static_cast<size_t>(ip[0] & 0x0f) * 4;
  if (ihl < 20 || ihl > ip_avail) return DropReason::bad_ihl;
  const size_t total_len = be16(ip + 2);
  // Captured may exceed total_len (Ethernet padding of short frames); the
  // IP header is authoritative for where the datagram ends.
  if (total_len < ihl || total_len > ip_avail) return DropReason::bad_ip_length;
  const uint16_t frag = be16(ip + 6);
  if ((frag & 0x2000) != 0 || (frag & 0x1fff) != 0) return DropReason::fragment;
  if (ip[9] != kProtoUdp) return DropReason::not_udp;

  out->family = 4;
  out->src_addr = raw32(ip + 12);
  out->dst_addr = raw32(ip + 16);
  return take_udp(ip + ihl, total_len - ihl, vlan_id, out);
}

}  // namespace mcr
