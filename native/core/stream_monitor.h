// Stream monitor: per-rule payload analysis in the loop, opt-in per rule
// (Rule::monitor, the rule's `monitor` option). Two analyzers, run on every
// matched datagram of a monitored rule, allocation-free and bounded:
// - RtpAnalyzer: RFC 3550 sequence accounting (lost, duplicate, reordered
//   datagrams, SSRC changes) and the interarrival jitter of A.8, from the
//   arrival time the ingress reports and a fixed RTP clock rate.
// - TsAnalyzer: MPEG-TS (ISO/IEC 13818-1) sync byte errors, sync losses and
//   continuity-counter errors per PID: the TR 101 290 priority-1 checks
//   1.1, 1.2 and 1.4, over a table of at most kTsPidTable PIDs per rule.
// Counts go straight into the rule's counter slot (counters.h), so the
// worker reads them like packets and bytes: no call, no copy.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "core/counters.h"

namespace mcr {

// Which analyzers a rule runs (bits; "rtp+mpegts" is both: TS in RTP).
enum MonitorMode : uint8_t { monitor_off = 0, monitor_rtp = 1, monitor_mpegts = 2 };

// The RTP timestamp clock the jitter is computed in: 90 kHz, the clock of
// video and MPEG-TS over RTP (RFC 3551, RFC 2250). docs/config.md says so.
constexpr uint32_t kRtpClockRate = 90000;
// Sequence numbers kept behind the highest one seen: a datagram up to this
// many places late counts as reordered (or duplicate), and a number missing
// when it leaves the window counts as lost.
constexpr uint32_t kRtpWindow = 64;
// RFC 3550 A.1's bounds: a jump ahead of at least this many, or back by
// more than kRtpMaxMisorder, is a restart of the sequence, not a loss.
constexpr uint32_t kRtpMaxDropout = 3000;
constexpr uint32_t kRtpMaxMisorder = 100;
// PIDs tracked per rule; packets of further PIDs count as ts_pid_overflow.
constexpr uint32_t kTsPidTable = 64;
constexpr uint32_t kTsPacket = 188;

// The counters of one rule slot an analyzer writes (the loop thread only).
class RuleCounterSink {
 public:
  RuleCounterSink(CounterBlock* counters, uint32_t slot) : counters_(counters), slot_(slot) {}
  void bump(RuleCounter c, uint64_t by = 1) { CounterBlock::bump(counters_->rule(slot_, c), by); }
  void set(RuleCounter c, uint64_t v) { CounterBlock::set(counters_->rule(slot_, c), v); }

 private:
  CounterBlock* counters_;
  uint32_t slot_;
};

class RtpAnalyzer {
 public:
  // One datagram's payload; `arrival_ns` is its arrival time (any epoch,
  // only differences matter). Returns the RTP payload (after header,
  // CSRCs, extension and padding) through `body`/`body_len`, or false when
  // the datagram is no RTP version 2 packet (counted as rtp_invalid).
  bool on_packet(const uint8_t* p, uint32_t len, uint64_t arrival_ns, RuleCounterSink& out,
                 const uint8_t** body, uint32_t* body_len);

 private:
  void restart(uint16_t seq, uint32_t ssrc);
  void update_jitter(uint32_t rtp_ts, uint64_t arrival_ns, RuleCounterSink& out);

  bool started_ = false;
  bool have_transit_ = false;
  uint16_t max_seq_ = 0;
  uint32_t ssrc_ = 0;
  // Bit i set: sequence number max_seq_ - i arrived.
  uint64_t window_ = 0;
  uint32_t last_transit_ = 0;
  uint32_t jitter_x16_ = 0;  // RFC 3550 A.8: jitter scaled by 16
};

class TsAnalyzer {
 public:
  TsAnalyzer() { clear(); }
  void on_payload(const uint8_t* p, uint32_t len, RuleCounterSink& out);
  void clear();

 private:
  struct PidState {
    uint16_t pid;   // kNoPid: free
    uint8_t cc;     // last continuity counter of a packet with payload
    uint8_t flags;  // kHaveCc, kDupSeen
  };
  static constexpr uint16_t kNoPid = 0xffff;
  static constexpr uint8_t kHaveCc = 1;
  static constexpr uint8_t kDupSeen = 2;

  void on_ts_packet(const uint8_t* p, RuleCounterSink& out);
  PidState* lookup(uint16_t pid);

  PidState pids_[kTsPidTable];
  uint32_t used_ = 0;
  bool in_sync_ = false;
  uint32_t good_run_ = 0;
  uint32_t bad_run_ = 0;
};

// What a monitored rule carries: its mode and the analyzers' state.
struct StreamMonitor {
  explicit StreamMonitor(uint8_t m) : mode(m) {}
  void on_datagram(const uint8_t* payload, uint32_t len, uint64_t arrival_ns, RuleCounterSink& out);

  uint8_t mode;
  RtpAnalyzer rtp;
  TsAnalyzer ts;
};

}  // namespace mcr
