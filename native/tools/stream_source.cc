// mcrgen's stream of datagrams (contract in stream_source.h).
#include "tools/stream_source.h"

#include <cstdlib>
#include <cstring>
#include <ctime>

#include "tools/payload.h"

namespace {

void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void put32(uint8_t* p, uint32_t v) {
  put16(p, static_cast<uint16_t>(v >> 16));
  put16(p + 2, static_cast<uint16_t>(v));
}

// The RTP timestamp: now on a 90 kHz clock, wrapped to 32 bits.
uint32_t rtp_now() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const uint64_t ticks = static_cast<uint64_t>(ts.tv_sec) * 90000u + static_cast<uint64_t>(ts.tv_nsec) / 100000u * 9u;
  return static_cast<uint32_t>(ticks);
}

}  // namespace

bool parse_impairments(const std::string& text, Impairments* out, std::string* why) {
  size_t at = 0;
  while (at <= text.size()) {
    const size_t comma = text.find(',', at);
    const std::string item = text.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
    const size_t eq = item.find('=');
    const std::string key = item.substr(0, eq);
    const std::string num = eq == std::string::npos ? "" : item.substr(eq + 1);
    bool digits = !num.empty() && num.size() <= 12;
    for (char ch : num) digits = digits && ch >= '0' && ch <= '9';
    const uint64_t n = digits ? std::strtoull(num.c_str(), nullptr, 10) : 0;
    if (n == 0) {
      *why = "expected KIND=N with N >= 1 (kinds gap, dup, reorder, cc), got \"" + item + "\"";
      return false;
    }
    if (key == "gap" && n == 1) {
      *why = "gap=1 would leave out every datagram: use 2 or more";
      return false;
    }
    if (key == "gap") out->gap = n;
    else if (key == "dup") out->dup = n;
    else if (key == "reorder") out->reorder = n;
    else if (key == "cc") out->cc = n;
    else {
      *why = "unknown impairment \"" + key + "\" (kinds: gap, dup, reorder, cc)";
      return false;
    }
    if (comma == std::string::npos) break;
    at = comma + 1;
  }
  return true;
}

StreamSource::StreamSource(bool rtp, bool mpegts, const Impairments& imp, uint32_t stream, size_t size, uint64_t count)
    : rtp_(rtp), mpegts_(mpegts), imp_(imp), stream_(stream), size_(size), count_(count), held_(size) {}

void StreamSource::build(uint8_t* buf, uint64_t number, bool skip_cc) {
  size_t at = 0;
  if (rtp_) {
    buf[0] = 0x80;                   // V=2, no padding, extension or CSRCs
    buf[1] = mpegts_ ? 33 : 96;      // MP2T (RFC 3551), else dynamic
    put16(buf + 2, static_cast<uint16_t>(number - 1));
    put32(buf + 4, rtp_now());
    put32(buf + 8, stream_);
    at = kRtpHeader;
  }
  if (!mpegts_) {
    if (size_ - at >= kPayloadHeaderLen) {
      payload_fill(buf + at, size_ - at, stream_, number - 1);
    } else {
      std::memset(buf + at, 0, size_ - at);
    }
    return;
  }
  if (skip_cc) cc_[0] = static_cast<uint8_t>((cc_[0] + 1) & 0x0f);
  const size_t packets = (size_ - at) / kTsPacket;
  for (size_t i = 0; i < packets; ++i) {
    uint8_t* p = buf + at + i * kTsPacket;
    const int which = (packets > 1 && i == packets - 1) ? 1 : 0;
    const uint16_t pid = static_cast<uint16_t>(0x100 + which);
    p[0] = 0x47;
    p[1] = static_cast<uint8_t>((pid >> 8) & 0x1f);
    p[2] = static_cast<uint8_t>(pid);
    p[3] = static_cast<uint8_t>(0x10 | cc_[which]);  // payload only
    cc_[which] = static_cast<uint8_t>((cc_[which] + 1) & 0x0f);
    std::memset(p + 4, 0xff, kTsPacket - 4);
  }
  std::memset(buf + at + packets * kTsPacket, 0, size_ - at - packets * kTsPacket);
}

uint64_t StreamSource::next(uint8_t* buf, uint64_t sent) {
  if (have_held_) {
    std::memcpy(buf, held_.data(), size_);
    have_held_ = false;
    return held_number_ - 1;
  }
  // No faults in the clean tail of a counted run.
  const bool may_impair = count_ == UINT64_MAX || sent + kCleanTail < count_;
  uint64_t k = ++built_;
  while (may_impair && due(imp_.gap, k)) {
    // Left out: its number and counters are used up.
    build(held_.data(), k, false);
    ++gaps_;
    k = ++built_;
  }
  const bool skip_cc = may_impair && mpegts_ && due(imp_.cc, k);
  if (skip_cc) ++cc_skips_;
  if (may_impair && due(imp_.reorder, k)) {
    // This one goes out after the next.
    build(held_.data(), k, skip_cc);
    have_held_ = true;
    held_number_ = k;
    build(buf, ++built_, false);
    ++reorders_;
    return built_ - 1;
  }
  build(buf, k, skip_cc);
  if (may_impair && due(imp_.dup, k)) {
    std::memcpy(held_.data(), buf, size_);
    have_held_ = true;
    held_number_ = k;
    ++dups_;
  }
  return k - 1;
}
