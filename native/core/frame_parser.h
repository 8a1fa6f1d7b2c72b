// Frame parser: turns one captured Ethernet frame into the UDP datagram the
// relay forwards, or into a counted drop reason. It is the only code that
// reads packet bytes; every length is checked against what was captured, so
// a short capture, a lying IP header or a lying UDP header can never make it
// read past the buffer. IPv4 and IPv6 (with its extension headers) behind at
// most one VLAN tag.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mcr {

// Why a frame was not forwarded. Values index the per-reason drop counters in
// the shared counter block, so keep them dense and append new ones at the end.
enum class DropReason : uint8_t {
  none = 0,
  short_ethernet,   // fewer bytes than an Ethernet (+802.1Q) header
  not_ipv4,         // EtherType neither IPv4 nor IPv6 (ARP, QinQ, ...), or the version nibble disagrees
  bad_ihl,          // IHL < 5, or header longer than the captured bytes
  bad_ip_length,    // IP total length < header, or larger than captured; IPv6 payload length 0 (jumbogram) or beyond captured
  fragment,         // IPv4: MF set or fragment offset non-zero
  not_udp,          // IP protocol / IPv6 final next header is not UDP (TCP, ESP, AH, no next header, ...)
  bad_udp_length,   // UDP length < 8 or larger than the IP payload
  oversize,         // frame larger than the receive buffer (set by the loop)
  ipv6_fragment,    // IPv6 fragment header with offset non-zero or M set (atomic fragments pass)
  bad_ipv6_header,  // fewer than 40 bytes of IPv6 header, or an extension header past the payload
  count_
};

constexpr size_t kDropReasonCount = static_cast<size_t>(DropReason::count_);
const char* drop_reason_name(DropReason reason);

struct Datagram {
  uint8_t family;           // 4 or 6
  uint32_t src_addr;        // IPv4, network byte order (family 4 only)
  uint32_t dst_addr;        // IPv4, network byte order (family 4 only)
  const uint8_t* src6;      // IPv6: the 16 address bytes in the frame (family 6 only)
  const uint8_t* dst6;
  uint16_t src_port;        // host byte order
  uint16_t dst_port;        // host byte order
  uint16_t vlan_id;         // 0 when untagged
  const uint8_t* payload;   // points into the frame: no copy
  uint32_t payload_len;
};

// Parses Ethernet II with at most one 802.1Q/802.1ad tag, IPv4 (options
// skipped via IHL) or IPv6 (hop-by-hop, routing, destination options and
// fragment headers walked; a fragment header of an unfragmented datagram,
// RFC 6946's atomic fragment, is skipped like the others) and UDP. Returns
// DropReason::none and fills `out` when the frame carries a complete,
// unfragmented UDP datagram.
DropReason parse_frame(const uint8_t* frame, size_t captured, Datagram* out);

}  // namespace mcr
