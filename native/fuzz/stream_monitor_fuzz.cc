// libFuzzer harness for the stream monitor (native/core/stream_monitor.cc),
// the code that reads the payload of every datagram of a rule with
// `monitor` set: bytes the sender chose, trusted by nothing. The input is a
// mode byte (rtp, mpegts or rtp+mpegts) and then datagrams, each a 16-bit
// length, a 32-bit arrival step in nanoseconds and the payload, fed in order
// to one StreamMonitor writing one rule slot of a real CounterBlock.
// Checked after every datagram, besides what ASan/UBSan catch (each payload
// is an exact-size, sometimes misaligned heap copy):
//  - no counter goes down (the jitter, a gauge, aside);
//  - one datagram adds at most one RTP duplicate, reorder, SSRC change or
//    invalid header, and at most 65 536 losses (a 16-bit sequence);
//  - MPEG-TS counts grow by at most what the payload can hold: one per
//    188-byte packet (plus one for a short tail's sync byte error or a
//    sync loss);
//  - without the rtp mode no RTP counter moves, without mpegts no TS one.
#include <cstddef>
#include <cstdint>

#include "core/counters.h"
#include "core/stream_monitor.h"
#include "fuzz/fuzz_support.h"

namespace {

using mcr::RuleCounter;

constexpr RuleCounter kCounted[] = {
    RuleCounter::rtp_lost,           RuleCounter::rtp_duplicates, RuleCounter::rtp_reordered,
    RuleCounter::rtp_ssrc_changes,   RuleCounter::rtp_invalid,    RuleCounter::ts_sync_byte_errors,
    RuleCounter::ts_sync_losses,     RuleCounter::ts_cc_errors,   RuleCounter::ts_pid_overflow,
};
constexpr size_t kCountedN = sizeof(kCounted) / sizeof(kCounted[0]);
constexpr uint32_t kMaxDatagram = 9000;

bool is_rtp(RuleCounter c) {
  return c == RuleCounter::rtp_lost || c == RuleCounter::rtp_duplicates || c == RuleCounter::rtp_reordered ||
         c == RuleCounter::rtp_ssrc_changes || c == RuleCounter::rtp_invalid;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mcrfuzz::ByteReader in(data, size);
  const uint8_t mode = static_cast<uint8_t>(1 + in.u8() % 3);
  mcr::CounterBlock block(1, 0);
  mcr::RuleCounterSink sink(&block, 0);
  mcr::StreamMonitor monitor(mode);
  uint64_t before[kCountedN] = {};
  uint64_t now_ns = 0;
  for (int n = 0; n < 256 && !in.empty(); ++n) {
    const uint32_t want = in.u16() % (kMaxDatagram + 1);
    now_ns += in.u32();
    const uint8_t* p = nullptr;
    const uint32_t len = static_cast<uint32_t>(in.bytes(want, &p));
    const mcrfuzz::ExactCopy copy(p, len, n % 2);
    monitor.on_datagram(copy.data(), len, now_ns, sink);

    const uint64_t ts_packets = len / mcr::kTsPacket;
    for (size_t i = 0; i < kCountedN; ++i) {
      const RuleCounter c = kCounted[i];
      const uint64_t v = block.rule(0, c).load(std::memory_order_relaxed);
      FUZZ_CHECK(v >= before[i]);
      const uint64_t grew = v - before[i];
      if (is_rtp(c)) {
        if ((mode & mcr::monitor_rtp) == 0) FUZZ_CHECK(grew == 0);
        FUZZ_CHECK(grew <= (c == RuleCounter::rtp_lost ? 65536u : 1u));
      } else {
        if ((mode & mcr::monitor_mpegts) == 0) FUZZ_CHECK(grew == 0);
        const bool may_count_tail = c == RuleCounter::ts_sync_byte_errors || c == RuleCounter::ts_sync_losses;
        FUZZ_CHECK(grew <= ts_packets + (may_count_tail ? 1 : 0));
      }
      before[i] = v;
    }
  }
  return 0;
}
