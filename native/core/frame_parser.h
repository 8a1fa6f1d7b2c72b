// Frame parser: turns one captured Ethernet frame into the UDP datagram the
// relay forwards, or into a counted drop reason. It is the only code that
// reads packet bytes; every length is checked against what was captured, so
// a short capture, a lying IP header or a lying UDP header can never make it
// read past the buffer.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mcr {

// Why a frame was not forwarded. Values index the per-reason drop counters in
// the shared counter block, so keep them dense and append new ones at the end.
enum class DropReason : uint8_t {
  none = 0,
  short_ethernet,   // fewer bytes than an Ethernet (+802.1Q) header
  not_ipv4,         // EtherType is not IPv4 (ARP, IPv6, QinQ, ...)
  bad_ihl,          // IHL < 5, or header longer than the captured bytes
  bad_ip_length,    // IP total length < header, or larger than captured
  fragment,         // MF set or fragment offset non-zero
  not_udp,          // IP protocol is not UDP
  bad_udp_length,   // UDP length < 8 or larger than the IP payload
  oversize,         // frame larger than the receive buffer (set by the loop)
  count_
};

constexpr size_t kDropReasonCount = static_cast<size_t>(DropReason::count_);
const char* drop_reason_name(DropReason reason);

struct Datagram {
  uint32_t src_addr;        // network byte order
  uint32_t dst_addr;        // network byte order
  uint16_t src_port;        // host byte order
  uint16_t dst_port;        // host byte order
  uint16_t vlan_id;         // 0 when untagged
  const uint8_t* payload;   // points into the frame: no copy
  uint32_t payload_len;
};

// Parses Ethernet II with at most one 802.1Q/802.1ad tag, IPv4 (options
// skipped via IHL) and UDP. Returns DropReason::none and fills `out` when the
// frame carries a complete, unfragmented UDP datagram.
DropReason parse_frame(const uint8_t* frame, size_t captured, Datagram* out);

}  // namespace mcr
