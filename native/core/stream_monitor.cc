// The analyzers of stream_monitor.h. Per datagram: a handful of loads,
// compares and, only when something is wrong, a counter store; the PID table
// is a fixed open-addressed array, so nothing allocates after the rule is
// built.
#include "core/stream_monitor.h"

#include <bit>

namespace mcr {
namespace {

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

}  // namespace

void RtpAnalyzer::restart(uint16_t seq, uint32_t ssrc, RuleCounterSink& out) {
  // The old sequence's numbers still missing are lost for good.
  if (started_) out.bump(RuleCounter::rtp_lost, kRtpWindow - std::popcount(window_));
  started_ = true;
  have_bad_seq_ = false;
  max_seq_ = seq;
  ssrc_ = ssrc;
  // Everything before the first number counts as received: a stream joined
  // mid-way has lost nothing before it. Seen: this number only.
  window_ = ~uint64_t{0};
  seen_ = 1;
  have_transit_ = false;
  jitter_x16_ = 0;
}

void RtpAnalyzer::update_jitter(uint32_t rtp_ts, uint64_t arrival_ns, RuleCounterSink& out) {
  // The arrival time in RTP clock units, wrapped to 32 bits as the RTP
  // timestamp is; split so the product cannot overflow.
  const uint64_t arrival = (arrival_ns / 1000000000u) * kRtpClockRate +
                           (arrival_ns % 1000000000u) * kRtpClockRate / 1000000000u;
  const uint32_t transit = static_cast<uint32_t>(arrival) - rtp_ts;
  if (have_transit_) {
    const int32_t diff = static_cast<int32_t>(transit - last_transit_);
    const uint32_t d = diff < 0 ? static_cast<uint32_t>(-static_cast<int64_t>(diff)) : static_cast<uint32_t>(diff);
    // A step (the clock the arrivals are stamped with, which is the wall
    // clock, or the sender's timestamps): a new reference, not jitter.
    if (d <= kRtpMaxTransitStep) {
      // RFC 3550 A.8: J += (|D| - J) / 16, kept scaled by 16 in integers.
      jitter_x16_ += d - ((jitter_x16_ + 8) >> 4);
      out.set(RuleCounter::rtp_jitter, jitter_x16_ >> 4);
    }
  }
  last_transit_ = transit;
  have_transit_ = true;
}

RtpVerdict RtpAnalyzer::on_packet(const uint8_t* p, uint32_t len, uint64_t arrival_ns, RuleCounterSink& out,
                                  const uint8_t** body, uint32_t* body_len) {
  // Header: V=2, then CSRCs, the extension and padding, all bounded by len.
  if (len < 12 || (p[0] >> 6) != 2) {
    out.bump(RuleCounter::rtp_invalid);
    return RtpVerdict::invalid;
  }
  uint32_t header = 12 + 4 * uint32_t{p[0] & 0x0fu};
  if ((p[0] & 0x10) != 0) {
    if (len < header + 4) {
      out.bump(RuleCounter::rtp_invalid);
      return RtpVerdict::invalid;
    }
    header += 4 + 4 * uint32_t{be16(p + header + 2)};
  }
  uint32_t end = len;
  if ((p[0] & 0x20) != 0) {
    const uint8_t pad = p[len - 1];
    if (pad == 0 || header + pad > len) {
      out.bump(RuleCounter::rtp_invalid);
      return RtpVerdict::invalid;
    }
    end -= pad;
  }
  if (header > end) {
    out.bump(RuleCounter::rtp_invalid);
    return RtpVerdict::invalid;
  }
  *body = p + header;
  *body_len = end - header;

  const uint16_t seq = be16(p + 2);
  const uint32_t ssrc = be32(p + 8);
  RtpVerdict verdict = RtpVerdict::in_order;
  if (!started_) {
    restart(seq, ssrc, out);
    verdict = RtpVerdict::restarted;
  } else if (ssrc != ssrc_) {
    out.bump(RuleCounter::rtp_ssrc_changes);
    restart(seq, ssrc, out);
    verdict = RtpVerdict::restarted;
  } else {
    const uint16_t ahead = static_cast<uint16_t>(seq - max_seq_);
    const uint16_t behind = static_cast<uint16_t>(max_seq_ - seq);
    if (ahead == 0) {
      out.bump(RuleCounter::rtp_duplicates);
      return RtpVerdict::duplicate;
    }
    if (ahead < kRtpMaxDropout) {
      // Numbers leaving the window without having arrived are lost.
      if (ahead >= kRtpWindow) {
        out.bump(RuleCounter::rtp_lost, (kRtpWindow - std::popcount(window_)) + (ahead - kRtpWindow));
        window_ = 1;
        seen_ = 1;
      } else {
        out.bump(RuleCounter::rtp_lost, ahead - std::popcount(window_ >> (kRtpWindow - ahead)));
        window_ = (window_ << ahead) | 1;
        seen_ = (seen_ << ahead) | 1;
      }
      max_seq_ = seq;
      have_bad_seq_ = false;
    } else if (behind <= kRtpMaxMisorder) {
      if (behind < kRtpWindow) {
        const uint64_t bit = uint64_t{1} << behind;
        if ((seen_ & bit) != 0) {
          out.bump(RuleCounter::rtp_duplicates);
          return RtpVerdict::duplicate;
        }
        seen_ |= bit;
        window_ |= bit;
      }
      // Later than the window: already counted lost, and late as well.
      out.bump(RuleCounter::rtp_reordered);
      verdict = RtpVerdict::late;
    } else if (have_bad_seq_ && seq == bad_seq_) {
      // RFC 3550 A.1: two datagrams in sequence far from the old one, so
      // the sender started over (same source): no loss for the jump.
      restart(seq, ssrc, out);
      verdict = RtpVerdict::restarted;
    } else {
      // A lone datagram far from the sequence (a stale copy, a stray
      // sender): nothing is counted unless the next one follows it.
      bad_seq_ = static_cast<uint16_t>(seq + 1);
      have_bad_seq_ = true;
      return RtpVerdict::stray;
    }
  }
  update_jitter(be32(p + 4), arrival_ns, out);
  return verdict;
}

void TsAnalyzer::clear() {
  for (auto& s : pids_) s = PidState{kNoPid, 0, 0};
  used_ = 0;
  in_sync_ = false;
  good_run_ = 0;
  bad_run_ = 0;
}

TsAnalyzer::PidState* TsAnalyzer::lookup(uint16_t pid) {
  // Open addressing with linear probing over a power-of-two table.
  static_assert((kTsPidTable & (kTsPidTable - 1)) == 0);
  uint32_t i = (uint32_t{pid} * 40503u >> 7) & (kTsPidTable - 1);
  for (uint32_t n = 0; n < kTsPidTable; ++n, i = (i + 1) & (kTsPidTable - 1)) {
    PidState& s = pids_[i];
    if (s.pid == pid) return &s;
    if (s.pid == kNoPid) {
      if (used_ == kTsPidTable) return nullptr;
      ++used_;
      s = PidState{pid, 0, 0};
      return &s;
    }
  }
  return nullptr;
}

void TsAnalyzer::on_ts_packet(const uint8_t* p, RuleCounterSink& out) {
  // TR 101 290 1.2 (Sync_byte_error) per packet, and 1.1 (TS_sync_loss):
  // sync is found after 5 good sync bytes in a row and lost after 2 bad.
  if (p[0] != 0x47) {
    out.bump(RuleCounter::ts_sync_byte_errors);
    good_run_ = 0;
    if (++bad_run_ >= 2 && in_sync_) {
      in_sync_ = false;
      out.bump(RuleCounter::ts_sync_losses);
    }
    return;
  }
  bad_run_ = 0;
  if (!in_sync_ && ++good_run_ >= 5) {
    in_sync_ = true;
    good_run_ = 0;
  }
  // TR 101 290 1.4 (Continuity_count_error), per PID. Null packets carry no
  // meaningful counter; a packet flagged as errored (TEI) is not trusted.
  const uint16_t pid = static_cast<uint16_t>(((p[1] & 0x1f) << 8) | p[2]);
  if (pid == 0x1fff || (p[1] & 0x80) != 0) return;
  PidState* s = lookup(pid);
  if (s == nullptr) {
    out.bump(RuleCounter::ts_pid_overflow);
    return;
  }
  const uint8_t afc = (p[3] >> 4) & 3;
  const uint8_t cc = p[3] & 0x0f;
  if ((afc & 1) == 0) return;  // no payload: the counter does not advance
  const bool discontinuity = (afc & 2) != 0 && p[4] > 0 && (p[5] & 0x80) != 0;
  if ((s->flags & kHaveCc) == 0 || discontinuity) {
    s->cc = cc;
    s->flags = kHaveCc;
    return;
  }
  if (cc == s->cc) {
    // One repeat of a packet is allowed (13818-1 2.4.3.3); a second is an error.
    if ((s->flags & kDupSeen) != 0) out.bump(RuleCounter::ts_cc_errors);
    s->flags |= kDupSeen;
    return;
  }
  s->flags &= static_cast<uint8_t>(~kDupSeen);
  if (cc != ((s->cc + 1) & 0x0f)) out.bump(RuleCounter::ts_cc_errors);
  s->cc = cc;
}

void TsAnalyzer::on_payload(const uint8_t* p, uint32_t len, RuleCounterSink& out) {
  const uint32_t whole = len / kTsPacket;
  for (uint32_t i = 0; i < whole; ++i) on_ts_packet(p + size_t{i} * kTsPacket, out);
  // A tail shorter than a packet cannot start with a valid one.
  if (len % kTsPacket != 0) out.bump(RuleCounter::ts_sync_byte_errors);
}

void StreamMonitor::on_datagram(const uint8_t* payload, uint32_t len, uint64_t arrival_ns, RuleCounterSink& out) {
  const uint8_t* ts_data = payload;
  uint32_t ts_len = len;
  if ((mode & monitor_rtp) != 0) {
    const RtpVerdict v = rtp.on_packet(payload, len, arrival_ns, out, &ts_data, &ts_len);
    // The TS in sequence only, as an RTP receiver passes it on: a duplicate
    // would read as a CC error, a stray datagram belongs to no sequence, and
    // a late one was already missed (its gap is the CC error a receiver that
    // drops late datagrams sees). A new stream brings new PIDs and counters.
    if (v == RtpVerdict::restarted) ts.clear();
    if (v != RtpVerdict::in_order && v != RtpVerdict::restarted) return;
  }
  if ((mode & monitor_mpegts) != 0) ts.on_payload(ts_data, ts_len, out);
}

}  // namespace mcr
