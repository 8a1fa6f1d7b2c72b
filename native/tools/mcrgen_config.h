// mcrgen's command line (mcrgen.cc describes the tool): the options, checked
// once here into a Config that the socket, the sender and the report trust.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <string>

#include "tools/stream_source.h"

namespace mcrgen {

constexpr const char* kTool = "mcrgen";

struct Config {
  sockaddr_in dest{};
  std::string ifname;
  bool has_source = false;
  in_addr source{};
  // IPv6 (--dest with a colon): dest6 and source6 instead of dest and source.
  bool v6 = false;
  sockaddr_in6 dest6{};
  in6_addr source6{};
  // 0: the kernel picks the source port. A fixed one keeps a flow's 5-tuple,
  // so its PACKET_FANOUT_HASH worker, the same across runs (bench:scaling).
  uint16_t source_port = 0;
  int ttl = 8;
  size_t size = 64;
  uint64_t rate = 0;
  uint64_t count = UINT64_MAX;
  bool has_duration = false;
  double duration = 0;
  uint32_t stream = 1;
  size_t batch = 64;
  size_t gso = 0;  // datagrams per UDP_SEGMENT message; 0 = one message per datagram
  // Depth of the pacing token bucket: how much of a stall is made up with a
  // catch-up burst (mcrgen_sender.cc).
  uint64_t catch_up_us = 2000;
  bool rtp = false;
  bool mpegts = false;
  bool timestamp = false;
  Impairments impair;
  bool streamed() const { return rtp || mpegts || impair.gap + impair.dup + impair.reorder + impair.cc > 0; }
};

// Exits 2 with one line naming the option on any bad or conflicting value.
Config parse_args(int argc, char** argv);

}  // namespace mcrgen
