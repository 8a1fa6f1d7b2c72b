// mcrsink's tally: what it counts of each datagram it received (mcrsink.cc
// lists the report's fields). Per stream a bitmap of seen seqs gives unique,
// duplicated and reordered datagrams and, from the highest seq, the lost
// ones; per sink the sizes, sources, TTLs, corruption reasons and, with
// --latency, the one-way latencies. The receive loop feeds it; the report
// prints it.
#pragma once

#include <sys/socket.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tools/latency_histogram.h"

namespace mcrsink {

// Seqs below this are tracked in the bitmap (2^28 seqs = 32 MiB per stream);
// those above count as unique without duplicate detection.
constexpr uint64_t kMaxTrackedSeq = 1ull << 28;

struct StreamStats {
  std::vector<uint64_t> seen;  // bit per seq below kMaxTrackedSeq
  uint64_t received = 0;
  uint64_t unique = 0;
  uint64_t duplicated = 0;
  uint64_t reordered = 0;
  uint64_t max_seq = 0;
  bool any = false;

  void record(uint64_t seq);
  // Streams start at seq 0: every seq up to the highest seen should be there.
  uint64_t lost() const { return any ? max_seq + 1 - std::min(unique, max_seq + 1) : 0; }
};

struct Totals {
  uint64_t received = 0;
  uint64_t bytes = 0;
  uint64_t min_size = UINT64_MAX;
  uint64_t max_size = 0;
  uint64_t corrupted = 0;
  uint64_t by_reason[5] = {};  // indexed by PayloadCheck
  uint64_t first_ns = 0;
  uint64_t last_ns = 0;
  std::map<uint32_t, StreamStats> streams;
  // Datagrams per source address (as text): shows which
  // address a relay sent from, e.g. before and after an address change.
  std::map<std::string, uint64_t> sources;
  // Datagrams per IP TTL as received (IP_RECVTTL): shows the TTL a relay
  // output set, e.g. before and after a reload that changed it.
  std::map<int, uint64_t> ttls;
  // --latency: receive minus send time of each timestamped payload.
  LatencyHistogram latency;
  uint64_t untimed = 0;
  uint64_t no_kernel_time = 0;
};

// What the control messages of one datagram carried.
struct Received {
  int ttl = -1;          // IP_TTL or IPV6_HOPLIMIT, -1 when absent
  uint64_t kernel_ns = 0;  // SCM_TIMESTAMPNS as ns since the epoch, 0 when absent
};

// Counts one datagram of `len` bytes from `from`. `latency`: --latency, so a
// timestamped payload's one-way latency is recorded.
void account(Totals& t, const uint8_t* buf, size_t len, const sockaddr_storage& from, const Received& rx, bool latency);

}  // namespace mcrsink
