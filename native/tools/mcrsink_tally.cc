// mcrsink's per-datagram bookkeeping (mcrsink_tally.h): payload verification,
// the seq bitmap, and the latency of timestamped payloads.
#include "tools/mcrsink_tally.h"

#include <algorithm>

#include "tools/payload.h"
#include "tools/tool_socket.h"

namespace mcrsink {

void StreamStats::record(uint64_t seq) {
  received++;
  bool dup = false;
  if (seq < kMaxTrackedSeq) {
    const size_t word = static_cast<size_t>(seq >> 6);
    if (word >= seen.size()) {
      // Double (at least) so growth costs amortised O(1) per packet.
      seen.resize(std::max<size_t>({word + 1, seen.size() * 2, 1024}), 0);
    }
    const uint64_t bit = 1ull << (seq & 63);
    dup = (seen[word] & bit) != 0;
    seen[word] |= bit;
  }
  if (dup) {
    duplicated++;
    return;
  }
  unique++;
  if (any && seq < max_seq) reordered++;
  if (!any || seq > max_seq) max_seq = seq;
  any = true;
}

void account(Totals& t, const uint8_t* buf, size_t len, const sockaddr_storage& from, const Received& rx, bool latency) {
  t.received++;
  t.sources[tool_addr_text(from)]++;
  if (rx.ttl >= 0) t.ttls[rx.ttl]++;
  t.bytes += len;
  t.min_size = std::min<uint64_t>(t.min_size, len);
  t.max_size = std::max<uint64_t>(t.max_size, len);
  uint32_t stream = 0;
  uint64_t seq = 0;
  uint64_t send_ns = 0;
  const PayloadCheck r = payload_verify_timed(buf, len, &stream, &seq, &send_ns);
  if (r != PayloadCheck::ok) {
    t.corrupted++;
    t.by_reason[static_cast<int>(r)]++;
    return;
  }
  if (latency) {
    if (send_ns == 0) {
      t.untimed++;
    } else if (rx.kernel_ns == 0) {
      t.no_kernel_time++;
    } else {
      t.latency.record(static_cast<int64_t>(rx.kernel_ns - send_ns));
    }
  }
  t.streams[stream].record(seq);
}

}  // namespace mcrsink
