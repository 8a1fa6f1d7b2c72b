// Tests for the stream monitor's analyzers (core/stream_monitor.h) with
// exact expected counts: RTP lost/duplicate/reordered/SSRC changes across
// the 64-number window and the 16-bit wrap, RFC 3550 A.1's probation of a
// jump (a stray datagram is no restart), reordering right after a start,
// RFC 3550 jitter on a known arrival pattern and across a clock step,
// malformed RTP headers; MPEG-TS CC errors per PID (skip,
// allowed single repeat, second repeat, discontinuity, no-payload packets,
// null PID), sync byte errors and sync losses (TR 101 290 1.1/1.2), the PID
// table's bound, and TS carried in RTP (duplicates, late and stray datagrams
// not analyzed; the PID table cleared for a new stream).
#include <cstdint>
#include <vector>

#include "core/counters.h"
#include "core/stream_monitor.h"
#include "tests/test_harness.h"

namespace {

using mcr::CounterBlock;
using mcr::RuleCounter;
using mcr::RuleCounterSink;
using mcr::StreamMonitor;

using Bytes = std::vector<uint8_t>;

constexpr uint32_t kSsrc = 0x11223344;

// An RTP packet (V=2, PT 33) with `body` after the fixed header.
Bytes rtp(uint16_t seq, uint32_t ts, uint32_t ssrc = kSsrc, const Bytes& body = Bytes(16, 0xab)) {
  Bytes p = {0x80, 33, static_cast<uint8_t>(seq >> 8), static_cast<uint8_t>(seq),
             static_cast<uint8_t>(ts >> 24), static_cast<uint8_t>(ts >> 16), static_cast<uint8_t>(ts >> 8),
             static_cast<uint8_t>(ts), static_cast<uint8_t>(ssrc >> 24), static_cast<uint8_t>(ssrc >> 16),
             static_cast<uint8_t>(ssrc >> 8), static_cast<uint8_t>(ssrc)};
  p.insert(p.end(), body.begin(), body.end());
  return p;
}

// One 188-byte TS packet; afc 1 = payload only, 2 = adaptation only, 3 = both.
Bytes ts_packet(uint16_t pid, uint8_t cc, uint8_t afc = 1, bool discontinuity = false) {
  Bytes p(188, 0xff);
  p[0] = 0x47;
  p[1] = static_cast<uint8_t>((pid >> 8) & 0x1f);
  p[2] = static_cast<uint8_t>(pid);
  p[3] = static_cast<uint8_t>((afc << 4) | (cc & 0x0f));
  if ((afc & 2) != 0) {
    p[4] = 1;
    p[5] = discontinuity ? 0x80 : 0x00;
  }
  return p;
}

Bytes concat(const std::vector<Bytes>& parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

struct Fixture {
  CounterBlock counters{1, 0};
  uint32_t slot = static_cast<uint32_t>(counters.claim_rule_slot());
  RuleCounterSink sink{&counters, slot};
  StreamMonitor monitor;
  explicit Fixture(uint8_t mode) : monitor(mode) {}
  void feed(const Bytes& p, uint64_t arrival_ns = 1'000'000'000) {
    monitor.on_datagram(p.data(), static_cast<uint32_t>(p.size()), arrival_ns, sink);
  }
  uint64_t get(RuleCounter c) { return counters.rule(slot, c).load(); }
};

void feed_seq(Fixture& f, uint32_t from, uint32_t to, const std::vector<uint32_t>& skip = {}) {
  for (uint32_t s = from; s < to; ++s) {
    bool skipped = false;
    for (uint32_t k : skip) skipped = skipped || k == s;
    if (!skipped) f.feed(rtp(static_cast<uint16_t>(s), s * 3600));
  }
}

}  // namespace

TEST(rtp_in_order_counts_nothing) {
  Fixture f(mcr::monitor_rtp);
  feed_seq(f, 0, 500);
  CHECK_EQ(f.get(RuleCounter::rtp_lost), 0u);
  CHECK_EQ(f.get(RuleCounter::rtp_duplicates), 0u);
  CHECK_EQ(f.get(RuleCounter::rtp_reordered), 0u);
  CHECK_EQ(f.get(RuleCounter::rtp_ssrc_changes), 0u);
  CHECK_EQ(f.get(RuleCounter::rtp_invalid), 0u);
}

TEST(rtp_gaps_count_lost_once_they_leave_the_window) {
  Fixture f(mcr::monitor_rtp);
  feed_seq(f, 100, 300, {110, 150, 151, 260});
  // 260 is less than 64 behind the highest number (299): maybe late, not yet lost.
  CHECK_EQ(f.get(RuleCounter::rtp_lost), 3u);
  feed_seq(f, 300, 400);
  CHECK_EQ(f.get(RuleCounter::rtp_lost), 4u);
  CHECK_EQ(f.get(RuleCounter::rtp_reordered), 0u);
  // A jump of more than the window at once: the numbers jumped over count.
  f.feed(rtp(400 + 100, 0));
  feed_seq(f, 501, 600);
  CHECK_EQ(f.get(RuleCounter::rtp_lost), 4u + 100u);
}

TEST(rtp_sequence_wraps_without_loss) {
  Fixture f(mcr::monitor_rtp);
  feed_seq(f, 65500, 65536 + 200, {65536 + 3});
  CHECK_EQ(f.get(RuleCounter::rtp_lost), 1u);
  CHECK_EQ(f.get(RuleCounter::rtp_reordered), 0u);
  CHECK_EQ(f.get(RuleCounter::rtp_duplicates), 0u);
}

TEST(rtp_duplicates_adjacent_and_late) {
  Fixture f(mcr::monitor_rtp);
  feed_seq(f, 0, 10);
  f.feed(rtp(9, 0));   // the highest, again
  feed_seq(f, 10, 30);
  f.feed(rtp(20, 0));  // 9 behind, already seen
  f.feed(rtp(29, 0));
  feed_seq(f, 30, 200);
  CHECK_EQ(f.get(RuleCounter::rtp_duplicates), 3u);
  CHECK_EQ(f.get(RuleCounter::rtp_lost), 0u);
  CHECK_EQ(f.get(RuleCounter::rtp_reordered), 0u);
}

TEST(rtp_reordered_is_not_lost) {
  Fixture f(mcr::monitor_rtp);
  feed_seq(f, 0, 10);
  f.feed(rtp(11, 0));
  f.feed(rtp(10, 0));  // swapped pair
  feed_seq(f, 12, 50);
  f.feed(rtp(51, 0));
  f.feed(rtp(52, 0));
  f.feed(rtp(50, 0));  // two places late
  feed_seq(f, 53, 200);
  CHECK_EQ(f.get(RuleCounter::rtp_reordered), 2u);
  CHECK_EQ(f.get(RuleCounter::rtp_lost), 0u);
  CHECK_EQ(f.get(RuleCounter::rtp_duplicates), 0u);
}

TEST(rtp_late_within_the_window_is_not_lost_later_is_both) {
  Fixture f(mcr::monitor_rtp);
  feed_seq(f, 0, 64, {10});
  f.feed(rtp(10, 0));  // 53 behind: in the window
  feed_seq(f, 64, 300, {200});
  CHECK_EQ(f.get(RuleCounter::rtp_reordered), 1u);
  CHECK_EQ(f.get(RuleCounter::rtp_lost), 1u);  // 200, out of the window by now
  f.feed(rtp(200, 0));  // 99 behind: within RFC 3550's misorder bound, past the window
  CHECK_EQ(f.get(RuleCounter::rtp_reordered), 2u);
  CHECK_EQ(f.get(RuleCounter::rtp_lost), 1u);
  // One place further than the bound is no late datagram but a stray: nothing counted.
  f.feed(rtp(198, 0));  // 101 behind 299
  feed_seq(f, 300, 500);
  CHECK_EQ(f.get(RuleCounter::rtp_reordered), 2u);
  CHECK_EQ(f.get(RuleCounter::rtp_duplicates), 0u);
  CHECK_EQ(f.get(RuleCounter::rtp_lost), 1u);
}

TEST(rtp_a_lone_datagram_far_behind_is_no_restart) {
  // RFC 3550 A.1: a jump restarts the sequence only once the next datagram
  // follows it; before, one stale copy 200 places late counted 200 lost.
  Fixture f(mcr::monitor_rtp);
  feed_seq(f, 0, 1001);
  f.feed(rtp(800, 0));
  feed_seq(f, 1001, 1300);
  CHECK_EQ(f.get(RuleCounter::rtp_lost), 0u);
  CHECK_EQ(f.get(RuleCounter::rtp_duplicates), 0u);
  CHECK_EQ(f.get(RuleCounter::rtp_reordered), 0u);
  // Far ahead, alone: not a restart either, and nothing jumped over is lost.
  f.feed(rtp(20000, 0));
  feed_seq(f, 1300, 1500);
  CHECK_EQ(f.get(RuleCounter::rtp_lost), 0u);
}

TEST(rtp_reordered_right_after_the_start_is_late_not_duplicate) {
  Fixture f(mcr::monitor_rtp);
  f.feed(rtp(11, 0));
  f.feed(rtp(10, 0));  // before the first number seen: late, never seen
  feed_seq(f, 12, 300);
  CHECK_EQ(f.get(RuleCounter::rtp_reordered), 1u);
  CHECK_EQ(f.get(RuleCounter::rtp_duplicates), 0u);
  CHECK_EQ(f.get(RuleCounter::rtp_lost), 0u);
}

TEST(rtp_ssrc_change_and_sequence_restart) {
  Fixture f(mcr::monitor_rtp);
  feed_seq(f, 0, 100);
  f.feed(rtp(40000, 0, 0x55555555));
  for (uint32_t s = 40001; s < 40100; ++s) f.feed(rtp(static_cast<uint16_t>(s), 0, 0x55555555));
  CHECK_EQ(f.get(RuleCounter::rtp_ssrc_changes), 1u);
  // Same source, numbers start over far away (RFC 3550 A.1 restart): not lost.
  for (uint32_t s = 7; s < 100; ++s) f.feed(rtp(static_cast<uint16_t>(s), 0, 0x55555555));
  CHECK_EQ(f.get(RuleCounter::rtp_lost), 0u);
  CHECK_EQ(f.get(RuleCounter::rtp_reordered), 0u);
  CHECK_EQ(f.get(RuleCounter::rtp_duplicates), 0u);
}

TEST(rtp_jitter_follows_rfc3550) {
  Fixture f(mcr::monitor_rtp);
  // 25 packets/s at 90 kHz: 3600 ticks apart, arriving on time: no jitter.
  const uint64_t t0 = 1'700'000'000'000'000'000ull;
  for (uint32_t i = 0; i < 50; ++i) f.feed(rtp(static_cast<uint16_t>(i), i * 3600), t0 + uint64_t{i} * 40'000'000);
  CHECK_EQ(f.get(RuleCounter::rtp_jitter), 0u);
  // Every other packet 10 ms (900 ticks) late: |D| = 900 each time, and J
  // converges to 900 from below (RFC 3550 A.8 integer form).
  uint32_t j16 = 0;
  for (uint32_t i = 50; i < 400; ++i) {
    const uint64_t late = (i % 2 == 1) ? 10'000'000 : 0;
    f.feed(rtp(static_cast<uint16_t>(i), i * 3600), t0 + uint64_t{i} * 40'000'000 + late);
    j16 += 900 - ((j16 + 8) >> 4);
  }
  CHECK_EQ(f.get(RuleCounter::rtp_jitter), j16 >> 4);
  CHECK(f.get(RuleCounter::rtp_jitter) >= 890 && f.get(RuleCounter::rtp_jitter) <= 900);
}

TEST(rtp_jitter_ignores_a_clock_step) {
  // The arrival clock steps 5 minutes ahead (date -s): one new reference,
  // not a jitter of seconds decaying over hundreds of datagrams.
  Fixture f(mcr::monitor_rtp);
  const uint64_t t0 = 1'700'000'000'000'000'000ull;
  uint64_t step = 0;
  for (uint32_t i = 0; i < 100; ++i) {
    if (i == 50) step = 300'000'000'000ull;
    f.feed(rtp(static_cast<uint16_t>(i), i * 3600), t0 + step + uint64_t{i} * 40'000'000);
  }
  CHECK_EQ(f.get(RuleCounter::rtp_jitter), 0u);
}

TEST(rtp_malformed_headers_are_invalid) {
  Fixture f(mcr::monitor_rtp);
  Bytes v1 = rtp(1, 0);
  v1[0] = 0x40;
  f.feed(v1);
  f.feed(Bytes(11, 0x80));
  Bytes pad = rtp(2, 0, kSsrc, Bytes(4, 0));
  pad[0] |= 0x20;
  pad.back() = 200;  // more padding than payload
  f.feed(pad);
  Bytes csrc = rtp(3, 0, kSsrc, Bytes(3, 0));
  csrc[0] |= 0x01;  // one CSRC announced, 3 bytes present
  f.feed(csrc);
  Bytes ext = rtp(4, 0, kSsrc, Bytes{0xbe, 0xde, 0x00, 0x05});  // extension of 5 words, none present
  ext[0] |= 0x10;
  f.feed(ext);
  CHECK_EQ(f.get(RuleCounter::rtp_invalid), 5u);
  CHECK_EQ(f.get(RuleCounter::rtp_lost), 0u);
}

TEST(rtp_body_skips_csrcs_extension_and_padding) {
  CounterBlock counters(1, 0);
  RuleCounterSink sink(&counters, static_cast<uint32_t>(counters.claim_rule_slot()));
  mcr::RtpAnalyzer a;
  // 2 CSRCs (8 bytes), an extension header + 1 word (8 bytes), 10 bytes of
  // body, 3 bytes of padding.
  Bytes body = {1, 1, 1, 1, 2, 2, 2, 2, 0xbe, 0xde, 0, 1, 9, 9, 9, 9};
  for (int i = 0; i < 10; ++i) body.push_back(static_cast<uint8_t>(0x40 + i));
  body.insert(body.end(), {0, 0, 3});
  Bytes p = rtp(7, 0, kSsrc, body);
  p[0] = 0x80 | 0x20 | 0x10 | 0x02;
  const uint8_t* out = nullptr;
  uint32_t out_len = 0;
  REQUIRE(a.on_packet(p.data(), static_cast<uint32_t>(p.size()), 1, sink, &out, &out_len) == mcr::RtpVerdict::restarted);
  CHECK_EQ(out_len, 10u);
  CHECK_EQ(out - p.data(), 12 + 8 + 8);
  CHECK_EQ(out[0], 0x40);
}

TEST(ts_clean_stream_counts_nothing) {
  Fixture f(mcr::monitor_mpegts);
  uint8_t cc[2] = {0, 0};
  for (int d = 0; d < 100; ++d) {
    std::vector<Bytes> pk;
    for (int i = 0; i < 7; ++i) {
      const int which = i == 6 ? 1 : 0;
      pk.push_back(ts_packet(static_cast<uint16_t>(0x100 + which), cc[which]++));
    }
    f.feed(concat(pk));
  }
  CHECK_EQ(f.get(RuleCounter::ts_cc_errors), 0u);
  CHECK_EQ(f.get(RuleCounter::ts_sync_byte_errors), 0u);
  CHECK_EQ(f.get(RuleCounter::ts_sync_losses), 0u);
  CHECK_EQ(f.get(RuleCounter::ts_pid_overflow), 0u);
}

TEST(ts_continuity_errors_per_pid) {
  Fixture f(mcr::monitor_mpegts);
  // PID 0x100: 0 1 2 [skip 3] 4 5 5 (one repeat allowed) 6 6 6 (second repeat: error)
  // PID 0x101 interleaved: 7 8 9 10, then 12 (skip).
  f.feed(concat({ts_packet(0x100, 0), ts_packet(0x101, 7), ts_packet(0x100, 1), ts_packet(0x101, 8),
                 ts_packet(0x100, 2), ts_packet(0x100, 4), ts_packet(0x101, 9)}));
  f.feed(concat({ts_packet(0x100, 5), ts_packet(0x100, 5), ts_packet(0x100, 6), ts_packet(0x100, 6),
                 ts_packet(0x100, 6), ts_packet(0x101, 10), ts_packet(0x101, 12)}));
  CHECK_EQ(f.get(RuleCounter::ts_cc_errors), 3u);
  // Adaptation-only packets keep the counter; a discontinuity resets it;
  // null packets and packets flagged errored (TEI) are not checked.
  Bytes tei = ts_packet(0x100, 0);
  tei[1] |= 0x80;
  f.feed(concat({ts_packet(0x100, 6, 2), ts_packet(0x100, 7), ts_packet(0x100, 13, 3, true), ts_packet(0x100, 14),
                 ts_packet(0x1fff, 3), ts_packet(0x1fff, 9), tei}));
  f.feed(ts_packet(0x100, 15));
  CHECK_EQ(f.get(RuleCounter::ts_cc_errors), 3u);
  CHECK_EQ(f.get(RuleCounter::ts_sync_byte_errors), 0u);
}

TEST(ts_sync_byte_errors_and_sync_loss) {
  Fixture f(mcr::monitor_mpegts);
  auto bad = [] {
    Bytes p = ts_packet(0x100, 0);
    p[0] = 0x46;
    return p;
  };
  uint8_t cc = 0;
  auto good = [&cc] { return ts_packet(0x100, cc++); };
  // Not yet in sync (fewer than 5 good): 2 bad are errors, no loss.
  f.feed(concat({good(), bad(), bad(), good(), good(), good(), good()}));
  CHECK_EQ(f.get(RuleCounter::ts_sync_byte_errors), 2u);
  CHECK_EQ(f.get(RuleCounter::ts_sync_losses), 0u);
  // 5 good: in sync. One bad is an error only; two in a row lose sync once.
  f.feed(concat({good(), bad(), good(), bad(), bad(), bad(), good()}));
  CHECK_EQ(f.get(RuleCounter::ts_sync_byte_errors), 6u);
  CHECK_EQ(f.get(RuleCounter::ts_sync_losses), 1u);
  // Sync is back after 5 good; lost again by 2 bad across datagrams.
  f.feed(concat({good(), good(), good(), good(), good(), good(), bad()}));
  f.feed(concat({bad(), good()}));
  CHECK_EQ(f.get(RuleCounter::ts_sync_losses), 2u);
  // A tail shorter than a packet is one sync byte error.
  Bytes tail = good();
  tail.resize(188 + 20, 0x47);
  f.feed(tail);
  CHECK_EQ(f.get(RuleCounter::ts_sync_byte_errors), 9u);
  CHECK_EQ(f.get(RuleCounter::ts_cc_errors), 0u);
}

TEST(ts_pid_table_is_bounded) {
  Fixture f(mcr::monitor_mpegts);
  for (uint16_t pid = 0x20; pid < 0x20 + 70; ++pid) f.feed(ts_packet(pid, 0));
  for (uint16_t pid = 0x20; pid < 0x20 + 70; ++pid) f.feed(ts_packet(pid, 1));
  CHECK_EQ(f.get(RuleCounter::ts_pid_overflow), 12u);
  CHECK_EQ(f.get(RuleCounter::ts_cc_errors), 0u);
}

TEST(ts_in_rtp) {
  Fixture f(mcr::monitor_rtp | mcr::monitor_mpegts);
  uint8_t cc = 0;
  for (uint32_t s = 0; s < 200; ++s) {
    std::vector<Bytes> pk;
    for (int i = 0; i < 7; ++i) pk.push_back(ts_packet(0x100, cc++));
    if (s == 50) continue;  // a lost datagram: 1 lost, 1 CC error
    if (s == 120) cc++;     // a TS packet missing inside a datagram
    f.feed(rtp(static_cast<uint16_t>(s), s * 3600, kSsrc, concat(pk)));
  }
  CHECK_EQ(f.get(RuleCounter::rtp_lost), 1u);
  CHECK_EQ(f.get(RuleCounter::ts_cc_errors), 2u);
  CHECK_EQ(f.get(RuleCounter::ts_sync_byte_errors), 0u);
  CHECK_EQ(f.get(RuleCounter::rtp_invalid), 0u);
}

// 7 TS packets of PID 0x100 with CCs from `cc`, in RTP datagram `seq`.
Bytes ts_datagram(uint16_t seq, uint8_t cc, uint32_t ssrc = kSsrc) {
  std::vector<Bytes> pk;
  for (int i = 0; i < 7; ++i) pk.push_back(ts_packet(0x100, static_cast<uint8_t>(cc + i)));
  return rtp(seq, seq * 3600u, ssrc, concat(pk));
}

TEST(ts_in_rtp_a_duplicate_datagram_is_no_cc_error) {
  Fixture f(mcr::monitor_rtp | mcr::monitor_mpegts);
  for (uint16_t s = 0; s < 20; ++s) {
    f.feed(ts_datagram(s, static_cast<uint8_t>(s * 7)));
    if (s == 10) f.feed(ts_datagram(s, static_cast<uint8_t>(s * 7)));  // the network sent it twice
  }
  CHECK_EQ(f.get(RuleCounter::rtp_duplicates), 1u);
  CHECK_EQ(f.get(RuleCounter::ts_cc_errors), 0u);
}

TEST(ts_in_rtp_a_late_datagram_is_one_gap_not_three) {
  // Arrival 10, 12, 11, 13: the TS skips 11's packets once (12 after 10),
  // as for a receiver that drops late datagrams; 11 itself is not analyzed.
  Fixture f(mcr::monitor_rtp | mcr::monitor_mpegts);
  for (uint16_t s : {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 11, 13, 14, 15}) f.feed(ts_datagram(s, static_cast<uint8_t>(s * 7)));
  CHECK_EQ(f.get(RuleCounter::rtp_reordered), 1u);
  CHECK_EQ(f.get(RuleCounter::ts_cc_errors), 1u);
}

TEST(ts_in_rtp_a_new_ssrc_starts_the_pid_table_over) {
  // An encoder that restarts with new PIDs each time: its old PIDs do not
  // fill the table (before, 64 PIDs in, every new one was ts_pid_overflow).
  Fixture f(mcr::monitor_rtp | mcr::monitor_mpegts);
  for (uint32_t run = 0; run < 80; ++run) {
    for (uint16_t s = 0; s < 3; ++s) {
      Bytes body = concat({ts_packet(static_cast<uint16_t>(0x100 + run), static_cast<uint8_t>(s))});
      f.feed(rtp(s, s * 3600u, 0x1000 + run, body));
    }
  }
  CHECK_EQ(f.get(RuleCounter::ts_pid_overflow), 0u);
  CHECK_EQ(f.get(RuleCounter::rtp_ssrc_changes), 79u);
  CHECK_EQ(f.get(RuleCounter::ts_cc_errors), 0u);
}
