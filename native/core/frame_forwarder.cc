// The per-frame path. A frame longer than buffer_size (or cut short by the
// capture) counts as drop_oversize instead of being forwarded cut.
#include "core/frame_forwarder.h"

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
  const Rule* rule = dgram.family == 4 ? rules_->match(dgram.dst_addr, dgram.dst_port, dgram.src_addr)
                                       : rules_->match6(dgram.dst6, dgram.dst_port, dgram.src6);
  if (rule == nullptr) {
    CounterBlock::bump(counters_->loop(no_rule));
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
  if (batcher_ != nullptr) {
    batcher_->add(rule, bid, dgram.payload, dgram.payload_len);
  } else {
    sends_->send_each(*rule, bid, dgram.payload, dgram.payload_len);
  }
  return true;
}

}  // namespace mcr
