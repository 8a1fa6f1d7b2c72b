// Tests for mcr::parse_frame on hand-built frames: the fields and payload of
// good datagrams (untagged, 802.1Q, 802.1ad, IP options, Ethernet padding,
// jumbo), one or more frames per drop reason, and truncation at every length
// to show the parser never reads past what was captured. Each parse runs on
// an exact-size heap copy of the captured bytes, so valgrind or ASan flags a
// read of even one byte beyond them.
#include <cstring>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "core/frame_parser.h"
#include "tests/frame_builder.h"
#include "tests/test_harness.h"

namespace mcr {
// Failure messages then name the reason ("bad_ihl") instead of a number.
std::ostream& operator<<(std::ostream& os, DropReason reason) {
  return os << drop_reason_name(reason);
}
}  // namespace mcr

namespace {

using mcr::DropReason;
using namespace mcrtest;

struct Parsed {
  DropReason reason = DropReason::count_;
  mcr::Datagram dg{};
  std::unique_ptr<uint8_t[]> bytes;  // the buffer parse_frame saw; dg.payload points into it
};

// Copies the first `captured` bytes to a heap block of exactly that size and
// parses it there; the copy is kept so payload pointers can be checked.
Parsed parse(const std::vector<uint8_t>& frame, size_t captured) {
  Parsed p;
  p.bytes = std::make_unique_for_overwrite<uint8_t[]>(captured);
  if (captured != 0) std::memcpy(p.bytes.get(), frame.data(), captured);
  p.reason = mcr::parse_frame(p.bytes.get(), captured, &p.dg);
  return p;
}
Parsed parse(const std::vector<uint8_t>& frame) { return parse(frame, frame.size()); }

DropReason reason_of(const FrameSpec& spec) { return parse(build_frame(spec)).reason; }

FrameSpec udp_spec(size_t payload_len = 32) {
  FrameSpec spec;
  spec.payload = pattern_payload(payload_len);
  return spec;
}

// The fields every good parse must report for `spec`, with the payload
// pointing into the parsed buffer at the offset the headers imply.
void check_good(const Parsed& p, const FrameSpec& spec, uint16_t vlan_id) {
  CHECK_EQ(p.reason, DropReason::none);
  if (p.reason != DropReason::none) return;
  CHECK_EQ(p.dg.src_addr, htonl(spec.src_addr));
  CHECK_EQ(p.dg.dst_addr, htonl(spec.dst_addr));
  CHECK_EQ(p.dg.src_port, spec.src_port);
  CHECK_EQ(p.dg.dst_port, spec.dst_port);
  CHECK_EQ(p.dg.vlan_id, vlan_id);
  CHECK(p.dg.payload == p.bytes.get() + payload_offset(spec));
  CHECK_EQ(p.dg.payload_len, spec.payload.size());
  CHECK(std::memcmp(p.dg.payload, spec.payload.data(), spec.payload.size()) == 0);
}

// ---- good frames ----

TEST(parses_untagged_udp) {
  const FrameSpec spec = udp_spec(100);
  const Parsed p = parse(build_frame(spec));
  check_good(p, spec, 0);
  CHECK_EQ(payload_offset(spec), 42u);
}

TEST(payload_points_into_frame_without_copy) {
  const FrameSpec spec = udp_spec(64);
  const Parsed p = parse(build_frame(spec));
  REQUIRE(p.reason == DropReason::none);
  // Same address range as the buffer handed in: a copy would live elsewhere.
  CHECK(p.dg.payload >= p.bytes.get());
  CHECK(p.dg.payload + p.dg.payload_len == p.bytes.get() + build_frame(spec).size());
  // A write through the frame is visible through the payload pointer.
  p.bytes[payload_offset(spec)] = 0xee;
  CHECK_EQ(p.dg.payload[0], 0xee);
}

TEST(empty_udp_payload_is_forwarded) {
  const FrameSpec spec = udp_spec(0);
  check_good(parse(build_frame(spec)), spec, 0);
}

TEST(dont_fragment_bit_is_not_a_fragment) {
  FrameSpec spec = udp_spec();
  spec.flags_fragment = 0x4000;
  CHECK_EQ(reason_of(spec), DropReason::none);
  spec.flags_fragment = 0;
  CHECK_EQ(reason_of(spec), DropReason::none);
}

TEST(parses_8021q_tag) {
  FrameSpec spec = udp_spec(50);
  spec.tags = {{kTpid8021Q, 100}};
  const Parsed p = parse(build_frame(spec));
  check_good(p, spec, 100);
  CHECK_EQ(payload_offset(spec), 46u);
}

TEST(vlan_id_masks_priority_and_dei) {
  FrameSpec spec = udp_spec();
  spec.tags = {{kTpid8021Q, static_cast<uint16_t>((5 << 13) | (1 << 12) | 0xabc)}};
  check_good(parse(build_frame(spec)), spec, 0xabc);
  spec.tags = {{kTpid8021Q, 0xffff}};
  check_good(parse(build_frame(spec)), spec, 0xfff);
}

TEST(parses_8021ad_outer_tag) {
  FrameSpec spec = udp_spec(20);
  spec.tags = {{kTpid8021ad, 2001}};
  check_good(parse(build_frame(spec)), spec, 2001);
}

TEST(double_tagged_frame_is_not_ipv4) {
  // Only one tag is supported; the inner TPID then sits where the EtherType is read.
  FrameSpec spec = udp_spec();
  spec.tags = {{kTpid8021ad, 10}, {kTpid8021Q, 20}};
  CHECK_EQ(reason_of(spec), DropReason::not_ipv4);
}

TEST(parses_ip_options_for_every_ihl) {
  for (uint8_t ihl = 5; ihl <= 15; ++ihl) {
    FrameSpec spec = udp_spec(33);
    spec.ihl = ihl;
    check_good(parse(build_frame(spec)), spec, 0);
    spec.tags = {{kTpid8021Q, 7}};
    check_good(parse(build_frame(spec)), spec, 7);
  }
}

TEST(ethernet_padding_is_ignored) {
  // 4-byte payload: 46-byte frame padded to the 60-byte Ethernet minimum, so
  // captured exceeds the IP total length and the padding must not count.
  FrameSpec spec = udp_spec(4);
  spec.pad_to = 60;
  const std::vector<uint8_t> frame = build_frame(spec);
  CHECK_EQ(frame.size(), 60u);
  check_good(parse(frame), spec, 0);
  spec.tags = {{kTpid8021Q, 3}};
  spec.pad_to = 64;
  check_good(parse(build_frame(spec)), spec, 3);
}

TEST(udp_length_bounds_payload_inside_ip_payload) {
  // Trailing bytes inside the IP datagram after the UDP length are not payload.
  FrameSpec spec = udp_spec(10);
  spec.udp_length = 8 + 6;
  const Parsed p = parse(build_frame(spec));
  REQUIRE(p.reason == DropReason::none);
  CHECK_EQ(p.dg.payload_len, 6u);
  CHECK(p.dg.payload == p.bytes.get() + payload_offset(spec));
}

TEST(jumbo_frame_9000_mtu) {
  const FrameSpec spec = udp_spec(8972);  // 9000 - 20 (IP) - 8 (UDP)
  const std::vector<uint8_t> frame = build_frame(spec);
  CHECK_EQ(frame.size(), 9014u);
  const Parsed p = parse(frame);
  check_good(p, spec, 0);
  CHECK_EQ(p.dg.payload_len, 8972u);
}

// ---- drop reasons ----

TEST(short_ethernet_untagged) {
  const std::vector<uint8_t> frame = build_frame(udp_spec());
  for (size_t len = 0; len < 14; ++len) CHECK_EQ(parse(frame, len).reason, DropReason::short_ethernet);
}

TEST(short_ethernet_tagged) {
  for (uint16_t tpid : {kTpid8021Q, kTpid8021ad}) {
    FrameSpec spec = udp_spec();
    spec.tags = {{tpid, 5}};
    const std::vector<uint8_t> frame = build_frame(spec);
    for (size_t len = 14; len < 18; ++len) CHECK_EQ(parse(frame, len).reason, DropReason::short_ethernet);
  }
}

TEST(not_ipv4_arp) {
  FrameSpec spec = udp_spec();
  spec.ether_type = kEtherArp;
  CHECK_EQ(reason_of(spec), DropReason::not_ipv4);
  spec.tags = {{kTpid8021Q, 9}};
  CHECK_EQ(reason_of(spec), DropReason::not_ipv4);
}

TEST(not_ipv4_ipv6_ethertype_with_ipv4_header) {
  // The IPv6 EtherType with a version-4 header behind it: neither.
  FrameSpec spec = udp_spec();
  spec.ether_type = kEtherIpv6;
  CHECK_EQ(reason_of(spec), DropReason::not_ipv4);
}

TEST(not_ipv4_ethertype_with_only_ethernet_header) {
  // A 14-byte ARP frame is complete Ethernet: the EtherType decides. An
  // IPv6 one lacks its header.
  FrameSpec spec = udp_spec();
  spec.ether_type = kEtherArp;
  CHECK_EQ(parse(build_frame(spec), 14).reason, DropReason::not_ipv4);
  spec.ether_type = kEtherIpv6;
  CHECK_EQ(parse(build_frame(spec), 14).reason, DropReason::bad_ipv6_header);
}

TEST(not_ipv4_version_nibble_6) {
  FrameSpec spec = udp_spec();
  spec.ip_version = 6;
  CHECK_EQ(reason_of(spec), DropReason::not_ipv4);
  spec.ip_version = 0;
  CHECK_EQ(reason_of(spec), DropReason::not_ipv4);
}

TEST(bad_ihl_below_5) {
  for (uint8_t ihl = 0; ihl < 5; ++ihl) {
    FrameSpec spec = udp_spec();
    spec.ihl = ihl;
    CHECK_EQ(reason_of(spec), DropReason::bad_ihl);
  }
}

TEST(bad_ihl_longer_than_captured) {
  // IHL 15 says 60 header bytes; capture stops inside the options.
  FrameSpec spec = udp_spec(0);
  spec.ihl = 15;
  const std::vector<uint8_t> frame = build_frame(spec);
  for (size_t ip_bytes = 20; ip_bytes < 60; ++ip_bytes) {
    CHECK_EQ(parse(frame, 14 + ip_bytes).reason, DropReason::bad_ihl);
  }
  // IHL 6 (24 bytes) on a frame that only has the 20 fixed bytes.
  FrameSpec short_spec = udp_spec(0);
  short_spec.ihl = 6;
  CHECK_EQ(parse(build_frame(short_spec), 14 + 20).reason, DropReason::bad_ihl);
}

TEST(bad_ihl_when_less_than_20_bytes_after_ethernet) {
  const std::vector<uint8_t> frame = build_frame(udp_spec());
  for (size_t len = 14; len < 34; ++len) CHECK_EQ(parse(frame, len).reason, DropReason::bad_ihl);
  FrameSpec tagged = udp_spec();
  tagged.tags = {{kTpid8021Q, 1}};
  const std::vector<uint8_t> tagged_frame = build_frame(tagged);
  for (size_t len = 18; len < 38; ++len) CHECK_EQ(parse(tagged_frame, len).reason, DropReason::bad_ihl);
}

TEST(bad_ip_length_below_header) {
  FrameSpec spec = udp_spec();
  spec.ip_total_length = 19;
  CHECK_EQ(reason_of(spec), DropReason::bad_ip_length);
  spec.ip_total_length = 0;
  CHECK_EQ(reason_of(spec), DropReason::bad_ip_length);
  spec.ihl = 6;  // 24-byte header, total 20
  spec.ip_total_length = 20;
  CHECK_EQ(reason_of(spec), DropReason::bad_ip_length);
}

TEST(bad_ip_length_beyond_captured) {
  FrameSpec spec = udp_spec(10);
  spec.ip_total_length = 20 + 8 + 10 + 1;
  CHECK_EQ(reason_of(spec), DropReason::bad_ip_length);
  spec.ip_total_length = 0xffff;
  CHECK_EQ(reason_of(spec), DropReason::bad_ip_length);
  // Correct total length, but the capture was cut short (snaplen).
  const std::vector<uint8_t> frame = build_frame(udp_spec(10));
  CHECK_EQ(parse(frame, frame.size() - 1).reason, DropReason::bad_ip_length);
}

TEST(fragment_more_fragments_set) {
  FrameSpec spec = udp_spec();
  spec.flags_fragment = 0x2000;
  CHECK_EQ(reason_of(spec), DropReason::fragment);
  spec.flags_fragment = 0x6000;  // DF and MF together still means MF
  CHECK_EQ(reason_of(spec), DropReason::fragment);
}

TEST(fragment_offset_nonzero) {
  for (uint16_t offset : {uint16_t{1}, uint16_t{185}, uint16_t{0x1fff}}) {
    FrameSpec spec = udp_spec();
    spec.flags_fragment = offset;
    CHECK_EQ(reason_of(spec), DropReason::fragment);
  }
}

TEST(fragment_mf_and_offset) {
  FrameSpec spec = udp_spec();
  spec.flags_fragment = 0x2000 | 185;
  CHECK_EQ(reason_of(spec), DropReason::fragment);
}

TEST(not_udp_tcp) {
  FrameSpec spec = udp_spec();
  spec.protocol = kProtoTcp;
  CHECK_EQ(reason_of(spec), DropReason::not_udp);
}

TEST(not_udp_icmp) {
  FrameSpec spec = udp_spec();
  spec.protocol = kProtoIcmp;
  CHECK_EQ(reason_of(spec), DropReason::not_udp);
}

TEST(bad_udp_length_below_8) {
  for (uint16_t len : {uint16_t{0}, uint16_t{1}, uint16_t{7}}) {
    FrameSpec spec = udp_spec();
    spec.udp_length = len;
    CHECK_EQ(reason_of(spec), DropReason::bad_udp_length);
  }
}

TEST(bad_udp_length_beyond_ip_payload) {
  FrameSpec spec = udp_spec(10);
  spec.udp_length = 8 + 10 + 1;
  CHECK_EQ(reason_of(spec), DropReason::bad_udp_length);
  // Also when the extra bytes are there in the capture (Ethernet padding):
  // the IP total length, not the capture, bounds the UDP datagram.
  spec.pad_to = 80;
  CHECK_EQ(reason_of(spec), DropReason::bad_udp_length);
}

TEST(bad_udp_length_ip_payload_below_8) {
  for (uint16_t ip_payload = 0; ip_payload < 8; ++ip_payload) {
    FrameSpec spec = udp_spec(0);
    spec.ip_total_length = static_cast<uint16_t>(20 + ip_payload);
    CHECK_EQ(reason_of(spec), DropReason::bad_udp_length);
  }
  // Same with a header that has options: the payload starts after IHL*4.
  FrameSpec opts = udp_spec(0);
  opts.ihl = 8;
  opts.ip_total_length = 32 + 7;
  CHECK_EQ(reason_of(opts), DropReason::bad_udp_length);
}

// ---- bounds ----

// Parses every truncation of `spec`'s frame. Only a cut through Ethernet
// padding may still parse, and then to the same datagram as the full frame.
void check_every_truncation(const FrameSpec& spec) {
  const std::vector<uint8_t> frame = build_frame(spec);
  const Parsed full = parse(frame);
  REQUIRE(full.reason == DropReason::none);
  const size_t datagram_end = payload_offset(spec) + spec.payload.size();
  for (size_t len = 0; len < frame.size(); ++len) {
    const Parsed p = parse(frame, len);
    if (len < datagram_end) {
      if (p.reason == DropReason::none) {
        CHECK_EQ(len, frame.size());  // reports the first truncated length that parsed
        return;
      }
    } else {
      CHECK_EQ(p.reason, DropReason::none);
      if (p.reason != DropReason::none) return;
      CHECK_EQ(p.dg.payload_len, full.dg.payload_len);
      CHECK(p.dg.payload == p.bytes.get() + payload_offset(spec));
    }
  }
}

TEST(never_reads_past_captured_untagged_padded) {
  FrameSpec spec = udp_spec(4);
  spec.pad_to = 60;
  check_every_truncation(spec);
}

TEST(never_reads_past_captured_tagged_with_options) {
  FrameSpec spec = udp_spec(200);
  spec.tags = {{kTpid8021Q, 42}};
  spec.ihl = 15;
  spec.pad_to = 300;
  check_every_truncation(spec);
}

TEST(never_reads_past_captured_full_size) {
  check_every_truncation(udp_spec(1472));
}

// ---- IPv6 ----

FrameSpec6 udp6_spec(size_t payload_len = 32) {
  FrameSpec6 spec;
  spec.payload = pattern_payload(payload_len);
  return spec;
}

DropReason reason6_of(const FrameSpec6& spec) { return parse(build_frame6(spec)).reason; }

void check_good6(const Parsed& p, const FrameSpec6& spec, uint16_t vlan_id) {
  CHECK_EQ(p.reason, DropReason::none);
  if (p.reason != DropReason::none) return;
  CHECK_EQ(int{p.dg.family}, 6);
  CHECK(std::memcmp(p.dg.src6, spec.src, 16) == 0);
  CHECK(std::memcmp(p.dg.dst6, spec.dst, 16) == 0);
  CHECK(p.dg.src6 == p.bytes.get() + ip6_offset(spec) + 8);
  CHECK(p.dg.dst6 == p.bytes.get() + ip6_offset(spec) + 24);
  CHECK_EQ(p.dg.src_port, spec.src_port);
  CHECK_EQ(p.dg.dst_port, spec.dst_port);
  CHECK_EQ(p.dg.vlan_id, vlan_id);
  CHECK_EQ(p.dg.payload_len, spec.payload.size());
  CHECK(p.dg.payload == p.bytes.get() + payload6_offset(spec));
  CHECK(std::memcmp(p.dg.payload, spec.payload.data(), spec.payload.size()) == 0);
}

TEST(ipv4_reports_family_4) {
  const Parsed p = parse(build_frame(udp_spec()));
  CHECK_EQ(p.reason, DropReason::none);
  CHECK_EQ(int{p.dg.family}, 4);
}

TEST(ipv6_parses_plain_udp) {
  const FrameSpec6 spec = udp6_spec();
  check_good6(parse(build_frame6(spec)), spec, 0);
  const FrameSpec6 empty = udp6_spec(0);
  check_good6(parse(build_frame6(empty)), empty, 0);
}

TEST(ipv6_behind_8021q_and_8021ad_tags) {
  FrameSpec6 spec = udp6_spec();
  spec.tags = {{kTpid8021Q, 0x2007}};
  check_good6(parse(build_frame6(spec)), spec, 7);
  spec.tags = {{kTpid8021ad, 300}};
  check_good6(parse(build_frame6(spec)), spec, 300);
}

TEST(ipv6_walks_every_extension_header_kind) {
  FrameSpec6 spec = udp6_spec(100);
  spec.ext = {ipv6_ext(0, 1), ipv6_ext(60, 2), ipv6_ext(43, 3), mcrtest::ipv6_fragment(0, false), ipv6_ext(60, 1)};
  check_good6(parse(build_frame6(spec)), spec, 0);
  // The longest one header can be: 256 units of 8 bytes.
  FrameSpec6 big = udp6_spec(8);
  big.ext = {ipv6_ext(0, 256)};
  check_good6(parse(build_frame6(big)), big, 0);
}

TEST(ipv6_atomic_fragment_is_relayed) {
  // RFC 6946: offset 0 and M clear is a whole datagram with a fragment header.
  FrameSpec6 spec = udp6_spec();
  spec.ext = {mcrtest::ipv6_fragment(0, false)};
  check_good6(parse(build_frame6(spec)), spec, 0);
}

TEST(ipv6_fragments_counted_as_ipv6_fragment) {
  for (const auto& [offset, more] : std::vector<std::pair<uint16_t, bool>>{{0, true}, {1, false}, {185, true}, {8191, false}}) {
    FrameSpec6 spec = udp6_spec();
    spec.ext = {mcrtest::ipv6_fragment(offset, more)};
    CHECK_EQ(reason6_of(spec), DropReason::ipv6_fragment);
    spec.ext = {ipv6_ext(0, 1), mcrtest::ipv6_fragment(offset, more)};
    CHECK_EQ(reason6_of(spec), DropReason::ipv6_fragment);
  }
  // The reserved bits between offset and M alone do not make a fragment.
  FrameSpec6 reserved = udp6_spec();
  reserved.ext = {mcrtest::ipv6_fragment(0, false)};
  reserved.ext[0].bytes[3] = 0x06;
  check_good6(parse(build_frame6(reserved)), reserved, 0);
}

TEST(ipv6_other_next_headers_are_not_udp) {
  for (uint8_t next : {uint8_t{6}, uint8_t{58}, uint8_t{50}, uint8_t{51}, uint8_t{59}, uint8_t{135}}) {
    FrameSpec6 spec = udp6_spec();
    spec.last_next_header = next;
    CHECK_EQ(reason6_of(spec), DropReason::not_udp);
    spec.ext = {ipv6_ext(60, 1)};
    CHECK_EQ(reason6_of(spec), DropReason::not_udp);
  }
}

TEST(ipv6_extension_header_past_payload_is_bad_ipv6_header) {
  // A destination-options header claiming 3 units where the payload leaves 2.
  FrameSpec6 spec = udp6_spec(0);
  spec.ext = {ipv6_ext(60, 1)};
  spec.ext[0].bytes[1] = 2;
  spec.payload_length = 16;
  CHECK_EQ(reason6_of(spec), DropReason::bad_ipv6_header);
  // Fewer than 8 bytes left for the next extension header.
  FrameSpec6 frag = udp6_spec(0);
  frag.ext = {mcrtest::ipv6_fragment(0, false)};
  frag.payload_length = 4;
  CHECK_EQ(reason6_of(frag), DropReason::bad_ipv6_header);
  FrameSpec6 hop = udp6_spec(0);
  hop.ext = {ipv6_ext(0, 1)};
  hop.payload_length = 7;
  CHECK_EQ(reason6_of(hop), DropReason::bad_ipv6_header);
}

TEST(ipv6_lengths) {
  FrameSpec6 spec = udp6_spec(16);
  spec.payload_length = 0;  // jumbogram
  CHECK_EQ(reason6_of(spec), DropReason::bad_ip_length);
  spec.payload_length = 8 + 16 + 1;  // one byte beyond the frame
  CHECK_EQ(reason6_of(spec), DropReason::bad_ip_length);
  spec.payload_length = 7;  // not even the UDP header
  CHECK_EQ(reason6_of(spec), DropReason::bad_udp_length);
  FrameSpec6 udp = udp6_spec(16);
  udp.udp_length = 8 + 17;
  CHECK_EQ(reason6_of(udp), DropReason::bad_udp_length);
  udp.udp_length = 7;
  CHECK_EQ(reason6_of(udp), DropReason::bad_udp_length);
  // A UDP length shorter than the IPv6 payload bounds the datagram; padding beyond is ignored.
  FrameSpec6 shorter = udp6_spec(16);
  shorter.udp_length = 8 + 10;
  shorter.pad_to = 120;
  const Parsed p = parse(build_frame6(shorter));
  CHECK_EQ(p.reason, DropReason::none);
  CHECK_EQ(p.dg.payload_len, 10u);
}

TEST(ipv6_header_cut_short_and_wrong_version) {
  const std::vector<uint8_t> frame = build_frame6(udp6_spec());
  for (size_t len = 14; len < 14 + 40; ++len) CHECK_EQ(parse(frame, len).reason, DropReason::bad_ipv6_header);
  FrameSpec6 v4 = udp6_spec();
  v4.version = 4;
  CHECK_EQ(reason6_of(v4), DropReason::not_ipv4);
}

// Every truncation of an IPv6 frame: nothing parses before the datagram's
// end, everything from there on parses to the same datagram.
void check_every_truncation6(const FrameSpec6& spec) {
  const std::vector<uint8_t> frame = build_frame6(spec);
  const Parsed full = parse(frame);
  REQUIRE(full.reason == DropReason::none);
  const size_t datagram_end = payload6_offset(spec) + spec.payload.size();
  for (size_t len = 0; len < frame.size(); ++len) {
    const Parsed p = parse(frame, len);
    if (len < datagram_end) {
      CHECK(p.reason != DropReason::none);
      if (p.reason == DropReason::none) return;
    } else {
      CHECK_EQ(p.reason, DropReason::none);
      if (p.reason != DropReason::none) return;
      CHECK_EQ(p.dg.payload_len, full.dg.payload_len);
    }
  }
}

TEST(ipv6_never_reads_past_captured) {
  FrameSpec6 spec = udp6_spec(40);
  spec.tags = {{kTpid8021Q, 5}};
  spec.ext = {ipv6_ext(0, 2), mcrtest::ipv6_fragment(0, false), ipv6_ext(43, 3), ipv6_ext(60, 1)};
  spec.pad_to = 300;
  check_every_truncation6(spec);
  check_every_truncation6(udp6_spec(1452));
}

// ---- names ----

TEST(drop_reason_names_non_empty_and_distinct) {
  std::set<std::string> names;
  for (size_t i = 0; i < mcr::kDropReasonCount; ++i) {
    const char* name = mcr::drop_reason_name(static_cast<DropReason>(i));
    REQUIRE(name != nullptr);
    CHECK(name[0] != '\0');
    CHECK(names.insert(name).second);
  }
  CHECK_EQ(names.size(), mcr::kDropReasonCount);
}

}  // namespace
