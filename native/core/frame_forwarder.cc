// The per-frame path. A frame longer than buffer_size (or cut short by the
// capture) counts as drop_oversize instead of being forwarded cut, and a
// frame its rule sent itself as drop_own_frame instead of being relayed
// again (sent_by).
#include "core/frame_forwarder.h"

#include <cstring>
#include <ctime>

#include "core/frame_parser.h"

namespace mcr {
namespace {

uint64_t realtime_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

// Whether the frame is one this host sent itself that came back in: its
// Ethernet source is the MAC of the input interface or of one of the rule's
// output interfaces. The packet socket already ignores MCR's frames leaving
// the input interface (PACKET_OUTGOING, packet_socket.cc); these are the
// ones a hairpin or loop on the input's segment, or a bridge or switch loop
// between an output's segment and the input's, brings back from the wire:
// they arrive as ordinary PACKET_MULTICAST/HOST frames. Relayed again, such
// a frame would circle for ever (each pass is a new datagram with the
// output's TTL, 255 for mDNS), or echo a segment's own datagrams back to it.
// No other host's frame carries these addresses. A 6-byte compare per
// output; `data` is a frame parse_frame accepted, so it holds the header.
bool FrameForwarder::sent_by(const Rule& rule, const uint8_t* data) const {
  const uint8_t* src_mac = data + 6;
  if (has_input_mac_ && std::memcmp(input_mac_, src_mac, sizeof(input_mac_)) == 0) return true;
  for (const auto& out : rule.outputs) {
    if (out->has_own_mac && std::memcmp(out->own_mac, src_mac, sizeof(out->own_mac)) == 0) return true;
  }
  return false;
}

bool FrameForwarder::on_frame(uint16_t bid, const uint8_t* data, uint32_t captured, uint32_t wire_len,
                              uint64_t arrival_ns) {
  CounterBlock::bump(counters_->loop(frames));
  CounterBlock::bump(counters_->loop(frame_bytes), wire_len);
  DropReason reason = DropReason::oversize;
  Datagram dgram;
  if (wire_len <= captured && wire_len <= buffer_size_) reason = parse_frame(data, wire_len, &dgram);
  if (reason != DropReason::none) {
    CounterBlock::bump(counters_->loop(static_cast<LoopCounter>(drop_short_ethernet + static_cast<uint32_t>(reason) - 1)));
    return false;
  }
  bool excluded = false;
  const Rule* rule = dgram.family == 4 ? rules_->match(dgram.dst_addr, dgram.dst_port, dgram.src_addr, &excluded)
                                       : rules_->match6(dgram.dst6, dgram.dst_port, dgram.src6, &excluded);
  if (rule == nullptr) {
    // A rule would have taken it but for its excludeSources: its own reason.
    CounterBlock::bump(counters_->loop(excluded ? drop_excluded : no_rule));
    return false;
  }
  if (sent_by(*rule, data)) {
    CounterBlock::bump(counters_->loop(drop_own_frame));
    return false;
  }
  CounterBlock::bump(counters_->loop(matched));
  CounterBlock::bump(counters_->rule(rule->slot, RuleCounter::packets));
  CounterBlock::bump(counters_->rule(rule->slot, RuleCounter::bytes), dgram.payload_len);
  if (rule->monitor) {
    RuleCounterSink sink(counters_, rule->slot);
    rule->monitor->on_datagram(dgram.payload, dgram.payload_len, arrival_ns != 0 ? arrival_ns : realtime_ns(), sink);
  }
  // One reference per live output, whether the frame goes out alone or in a
  // batch. An output whose interface was missing when the rule was built
  // counts the datagram as an error instead (Output::down_errno).
  uint32_t live = 0;
  for (const auto& out : rule->outputs) {
    if (out->fd >= 0) {
      ++live;
    } else {
      sends_->count_send_error(out.get(), out->down_errno, 1);
    }
  }
  CounterBlock::bump(counters_->loop(sends_queued), live);
  if (live == 0) return false;
  pool_->hold(bid, live);
  if (rule->rewrites) [[unlikely]] {
    // Per-datagram destinations: one SEND each, never a batch (a batch has one address).
    sends_->send_rewritten(*rule, bid, dgram);
  } else if (batcher_ != nullptr) {
    batcher_->add(rule, bid, dgram.payload, dgram.payload_len);
  } else {
    sends_->send_each(*rule, bid, dgram.payload, dgram.payload_len);
  }
  return true;
}

}  // namespace mcr
