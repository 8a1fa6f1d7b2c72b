// The datagrams mcrgen sends, one after another, with what a monitored
// stream carries and the faults a test wants to count:
// - payload: the checksummed test payload (payload.h), or an RTP header
//   (V=2, sequence number = datagram number mod 2^16, 90 kHz timestamp from
//   the send time, SSRC = the stream id) before it, or MPEG-TS packets (188
//   bytes each, PID 0x100 and, as the last packet of a datagram of two or
//   more, PID 0x101; continuity counters per PID), alone or in RTP.
// - impairments, deterministic, on every Nth datagram of the stream
//   (numbered from 1): gap=N leaves it out (its RTP number and TS counters
//   are used up, as on a lossy link), dup=N sends it twice, reorder=N sends
//   the next datagram before it, cc=N skips one continuity counter value of
//   PID 0x100 in it. Each kind is counted as injected; gap wins over
//   reorder, reorder over dup on a datagram that is due for several.
//   Datagrams within the last kCleanTail of a --count run are never
//   impaired, so a receiver's reorder window (64 numbers in the relay)
//   settles every fault before the stream ends.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

struct Impairments {
  uint64_t gap = 0, dup = 0, reorder = 0, cc = 0;  // every Nth; 0 = never
};

// Parses "gap=N,dup=N,reorder=N,cc=N" (any subset, N ≥ 1); false and *why on error.
bool parse_impairments(const std::string& text, Impairments* out, std::string* why);

class StreamSource {
 public:
  static constexpr size_t kRtpHeader = 12;
  static constexpr size_t kTsPacket = 188;
  static constexpr uint64_t kCleanTail = 100;

  // `size`: UDP payload bytes (with --mpegts: header plus whole TS packets).
  StreamSource(bool rtp, bool mpegts, const Impairments& imp, uint32_t stream, size_t size, uint64_t count);

  // Writes the next datagram (size() bytes) into `buf`; `sent` is how many
  // went out before it (for the clean tail). Returns the datagram's number
  // in the stream from 0, its payload sequence (a gap skips numbers, a
  // duplicate repeats one, a reorder sends a higher one first).
  uint64_t next(uint8_t* buf, uint64_t sent);
  size_t size() const { return size_; }

  uint64_t gaps() const { return gaps_; }
  uint64_t dups() const { return dups_; }
  uint64_t reorders() const { return reorders_; }
  uint64_t cc_skips() const { return cc_skips_; }
  // Datagrams of the stream built so far (sent, left out, or held).
  uint64_t built() const { return built_; }

 private:
  void build(uint8_t* buf, uint64_t number, bool skip_cc);
  static bool due(uint64_t every, uint64_t k) { return every != 0 && k % every == 0; }

  bool rtp_, mpegts_;
  Impairments imp_;
  uint32_t stream_;
  size_t size_;
  uint64_t count_;
  uint64_t built_ = 0;  // stream datagrams numbered 1.. as built
  uint8_t cc_[2] = {0, 0};
  std::vector<uint8_t> held_;  // a datagram to send next (reorder's late one, dup's copy)
  bool have_held_ = false;
  uint64_t held_number_ = 0;  // the held datagram's number, from 1
  uint64_t gaps_ = 0, dups_ = 0, reorders_ = 0, cc_skips_ = 0;
};
