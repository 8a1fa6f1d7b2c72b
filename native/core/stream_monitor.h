// Stream monitor: per-rule payload analysis in the loop, opt-in per rule
// (Rule::monitor, the rule's `monitor` option). Two analyzers, run on every
// matched datagram of a monitored rule, allocation-free and bounded:
// - RtpAnalyzer: RFC 3550 sequence accounting (lost, duplicate, reordered
//   datagrams, SSRC changes, A.1's probation of a jump) and the
//   interarrival jitter of A.8, from the arrival time the ingress reports
//   and a fixed RTP clock rate.
// - TsAnalyzer: MPEG-TS (ISO/IEC 13818-1) sync byte errors, sync losses and
//   continuity-counter errors per PID: the TR 101 290 priority-1 checks
//   1.1, 1.2 and 1.4, over a table of at most kTsPidTable PIDs per rule.
// With both, the TS analyzer sees the datagrams an RTP receiver keeps in
// sequence: not duplicates, late or stray ones, and it starts over with a
// new SSRC or sequence. The state is one stream's: a rule that matches
// several streams mixes them (docs/config.md says so).
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
// RFC 3550 A.1's bounds: a jump ahead of at least this many, or back by
// more than kRtpMaxMisorder, is no loss: a restart of the sequence once the
// next datagram follows it (probation), else a stray datagram.
constexpr uint32_t kRtpMaxDropout = 3000;
constexpr uint32_t kRtpMaxMisorder = 100;
// Sequence numbers kept behind the highest one seen: a number missing when
// it leaves the window counts as lost, so a loss is reported 64 datagrams
// after it (1.3 s for an audio stream of 50 per second). A datagram later
// than that (64 to kRtpMaxMisorder places) was counted lost already, and
// counts as reordered as well: the counters never go down.
constexpr uint32_t kRtpWindow = 64;
// Transit-time changes larger than this (1 s at 90 kHz) are a step of the
// receiving clock or of the sender's timestamps, not jitter: the jitter
// takes the new transit time as its reference and is not moved.
constexpr uint32_t kRtpMaxTransitStep = kRtpClockRate;
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

// What the RTP accounting made of one datagram.
enum class RtpVerdict : uint8_t {
  invalid,    // no RTP version 2 packet (rtp_invalid)
  in_order,   // the next number, or ahead of it (numbers jumped over count lost later)
  restarted,  // the first of a stream, a new SSRC, or a restart the probation confirmed
  late,       // behind the highest number, not seen before (rtp_reordered)
  duplicate,  // seen before (rtp_duplicates)
  stray,      // far from the sequence, and not (yet) followed: RFC 3550 A.1 probation
};

class RtpAnalyzer {
 public:
  // One datagram's payload; `arrival_ns` is its arrival time (any epoch,
  // only differences matter). Gives the RTP payload (after header, CSRCs,
  // extension and padding) through `body`/`body_len` unless the verdict is
  // invalid.
  RtpVerdict on_packet(const uint8_t* p, uint32_t len, uint64_t arrival_ns, RuleCounterSink& out,
                       const uint8_t** body, uint32_t* body_len);

 private:
  void restart(uint16_t seq, uint32_t ssrc, RuleCounterSink& out);
  void update_jitter(uint32_t rtp_ts, uint64_t arrival_ns, RuleCounterSink& out);

  bool started_ = false;
  bool have_transit_ = false;
  // RFC 3550 A.1's bad_seq: the number after a stray datagram; the next
  // datagram carrying it confirms a restart of the sequence there.
  bool have_bad_seq_ = false;
  uint16_t bad_seq_ = 0;
  uint16_t max_seq_ = 0;
  uint32_t ssrc_ = 0;
  // Bit i stands for sequence number max_seq_ - i. Set: the number arrived,
  // or came before the stream's first one (a stream joined mid-way has lost
  // nothing before it). For losses.
  uint64_t window_ = 0;
  // Bit set: the number arrived. For duplicates: a late number before the
  // stream's first one is reordered, not a duplicate.
  uint64_t seen_ = 0;
  uint32_t last_transit_ = 0;
  uint32_t jitter_x16_ = 0;  // RFC 3550 A.8: jitter scaled by 16
};

class TsAnalyzer {
 public:
  TsAnalyzer() { clear(); }
  void on_payload(const uint8_t* p, uint32_t len, RuleCounterSink& out);
  // Forgets every PID and the sync state: a new stream (an RTP SSRC change
  // or sequence restart) brings its own PIDs and counters.
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
