// mcrgen's send loop: payloads filled per batch, sendmmsg(2) (with --gso as
// UDP_SEGMENT messages), the token bucket that paces --rate, and the
// handling of each send error (mcrgen.cc has the rules). What it did goes
// into Stats, which the report prints.
#pragma once

#include <cstdint>
#include <map>

#include "tools/mcrgen_config.h"
#include "tools/stream_source.h"

namespace mcrgen {

struct Stats {
  uint64_t sent = 0;
  uint64_t retries = 0;
  uint64_t errors = 0;
  // Payload sequences of the first and the last datagram sent (when sent > 0).
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
  int fatal_errno = 0;  // the send error that stopped the run, 0 for none
  std::map<int, uint64_t> by_errno;
  uint64_t start_ns = 0;
  uint64_t end_ns = 0;
};

// Sends until --count, --duration, a fatal error (st.errors > 0) or a stop
// signal. `source` builds stream payloads (--rtp, --mpegts, --impair); null:
// the test payload.
void run(int fd, const Config& c, Stats& st, StreamSource* source);

}  // namespace mcrgen
