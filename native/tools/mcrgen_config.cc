// mcrgen's options and their checks (mcrgen_config.h): ranges, the address
// family from --dest, a link-local destination's interface, and the payload
// sizes --mpegts and --timestamp need.
#include "tools/mcrgen_config.h"

#include <arpa/inet.h>

#include "tools/payload.h"
#include "tools/tool_args.h"

namespace mcrgen {

Config parse_args(int argc, char** argv) {
  const ToolArgs args(
      kTool, "Send numbered, checksummed UDP test packets (see mcrsink) in paced batches.",
      {
          {"dest", "ADDR", "destination IPv4 or IPv6 address, multicast group or unicast (required)"},
          {"port", "PORT", "destination UDP port (required)"},
          {"interface", "IF", "send via this interface (IP_MULTICAST_IF + SO_BINDTODEVICE)"},
          {"source", "ADDR", "bind to this local address"},
          {"source-port", "PORT", "bind to this local UDP port, 1..65535 (default: the kernel's choice)"},
          {"ttl", "N", "IP TTL and multicast TTL (IPv6: hop limits), 1..255 (default 8)"},
          {"size", "BYTES", "UDP payload bytes, 18..8972 (default 64)"},
          {"rate", "PPS", "packets per second, 0 = as fast as possible (default 0)"},
          {"count", "N", "stop after N packets"},
          {"duration", "SEC", "stop after SEC seconds (fractions allowed)"},
          {"stream", "ID", "stream id written into every payload, u32 (default 1)"},
          {"batch", "N", "packets per sendmmsg call (with --timestamp one call per message), 1..1024 (default 64)"},
          {"catch-up-us", "US", "with --rate: the most time a stalled sender makes up with a burst, 0..100000 us (default 2000; at least two batches' time is always made up)"},
          {"gso", "N", "send each batch as UDP_SEGMENT messages of up to N datagrams (and 65507 bytes), 0..64 (default 0 = off)"},
          {"rtp", nullptr, "an RTP header first (sequence = datagram number, SSRC = --stream, 90 kHz timestamps)"},
          {"mpegts", nullptr, "MPEG-TS packets (188 bytes, PIDs 0x100/0x101) instead of the test payload; default --size 7 x 188 (+12 with --rtp)"},
          {"timestamp", nullptr, "stamp each payload with its send time (CLOCK_REALTIME) for mcrsink --latency; --size 26..8972"},
          {"impair", "SPEC", "gap=N,dup=N,reorder=N,cc=N: leave out, repeat, swap with the next, or skip a TS counter on every Nth datagram"},
      },
      argc, argv);
  Config c;
  const std::string dest_text = args.str("dest", "");
  c.v6 = dest_text.find(':') != std::string::npos;
  const uint16_t port = static_cast<uint16_t>(args.required_uint("port", 1, 65535));
  c.ifname = args.str("interface", "");
  c.has_source = args.has("source");
  if (c.v6) {
    c.dest6.sin6_family = AF_INET6;
    c.dest6.sin6_port = htons(port);
    if (inet_pton(AF_INET6, dest_text.c_str(), &c.dest6.sin6_addr) != 1) args.bad("dest", "expected an IPv4 or IPv6 address, got \"" + dest_text + "\"");
    if (c.has_source && inet_pton(AF_INET6, args.str("source", "").c_str(), &c.source6) != 1) {
      args.bad("source", "expected an IPv6 address (the family of --dest)");
    }
    // A link-local destination (fe80::/10, ff02::/16) needs its link.
    const uint8_t* a = c.dest6.sin6_addr.s6_addr;
    if ((a[0] == 0xfe && (a[1] & 0xc0) == 0x80) || (a[0] == 0xff && (a[1] & 0x0f) <= 2)) {
      if (c.ifname.empty()) args.bad("interface", "a link-local --dest needs --interface");
      c.dest6.sin6_scope_id = tool_ifindex(kTool, c.ifname);
    }
  } else {
    c.dest.sin_family = AF_INET;
    c.dest.sin_addr = args.required_ipv4("dest");
    c.dest.sin_port = htons(port);
    c.source = args.ipv4("source", in_addr{});
  }
  c.source_port = static_cast<uint16_t>(args.uint("source-port", 1, 65535, 0));
  c.ttl = static_cast<int>(args.uint("ttl", 1, 255, 8));
  c.size = args.uint("size", kPayloadHeaderLen, kPayloadMaxLen, 64);
  c.rate = args.uint("rate", 0, 100000000, 0);
  args.require_one_of("count", "duration");
  c.count = args.uint("count", 0, UINT64_MAX / 2, UINT64_MAX);
  c.has_duration = args.has("duration");
  c.duration = args.num("duration", 0, 1e7, 0);
  c.stream = static_cast<uint32_t>(args.uint("stream", 0, UINT32_MAX, 1));
  c.batch = args.uint("batch", 1, 1024, 64);
  c.gso = args.uint("gso", 0, 64, 0);
  c.catch_up_us = args.uint("catch-up-us", 0, 100000, 2000);
  c.rtp = args.has("rtp");
  c.mpegts = args.has("mpegts");
  if (args.has("impair")) {
    std::string why;
    if (!parse_impairments(args.str("impair", ""), &c.impair, &why)) args.bad("impair", why);
  }
  const size_t header = c.rtp ? StreamSource::kRtpHeader : 0;
  if (c.mpegts) {
    if (!args.has("size")) c.size = header + 7 * StreamSource::kTsPacket;
    if (c.size < header + StreamSource::kTsPacket || (c.size - header) % StreamSource::kTsPacket != 0) {
      args.bad("size", "with --mpegts the payload is " + std::string(c.rtp ? "12 bytes of RTP header plus " : "") +
                           "whole 188-byte TS packets, e.g. " + std::to_string(header + 7 * StreamSource::kTsPacket));
    }
  }
  if (c.impair.cc != 0 && !c.mpegts) args.bad("impair", "cc=N needs --mpegts");
  c.timestamp = args.has("timestamp");
  if (c.timestamp && c.streamed()) args.bad("timestamp", "stamps the test payload: not with --rtp, --mpegts or --impair");
  if (c.timestamp && c.size < kPayloadTimedHeaderLen) {
    args.bad("size", "with --timestamp at least " + std::to_string(kPayloadTimedHeaderLen) + " bytes (header and send time)");
  }
  return c;
}

}  // namespace mcrgen
