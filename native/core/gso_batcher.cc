// UDP_SEGMENT batching. No allocation per datagram: records come from a
// fixed pool and the open list has a fixed capacity.
#include "core/gso_batcher.h"

#include <cerrno>

namespace mcr {
namespace {

// Flows with an open batch in one walk; more are flushed early (no malloc).
constexpr uint32_t kMaxOpenRules = 256;

}  // namespace

void GsoBatcher::init(uint32_t records, uint32_t output_slots, uint32_t ticks_per_second) {
  batches_.init(records);
  open_rules_.reserve(kMaxOpenRules);
  gso_off_.reserve(output_slots);
  ticks_per_second_ = ticks_per_second;
}

bool GsoBatcher::rule_can_batch(const Rule& rule) {
  // Outputs share the batch's msghdr, which carries no address: connected only.
  for (const auto& out : rule.outputs) {
    if (out->fd >= 0 && (!out->connected || !out->gso_ok)) return false;
  }
  return true;
}

void GsoBatcher::add(const Rule* rule, uint16_t bid, const uint8_t* payload, uint32_t len) {
  if (rule->open_batch != kNoBatch && !batches_.at(rule->open_batch).accepts(len)) flush(rule);
  if (rule->open_batch == kNoBatch) {
    // An empty datagram goes alone, after the flow's batch flushed above.
    if (!rule_can_batch(*rule) || !SendBatch::batchable(len)) {
      sends_->send_each(*rule, bid, payload, len);
      return;
    }
    // A rule is listed once per walk however many batches it fills: a long
    // walk (the loop behind after a stall) fills hundreds for one flow, and
    // a list that grew per batch used to run full and send the rest of the
    // walk one datagram at a time, at several times the cost, so the loop
    // fell further behind (docs/performance-history.md, "batch list collapse").
    if (!rule->open_listed) {
      // More flows with open batches than the list holds: send theirs now.
      if (open_rules_.size() == kMaxOpenRules) flush_open();
      rule->open_listed = true;
      open_rules_.push_back(rule);
    }
    const uint32_t index = batches_.acquire(static_cast<uint16_t>(len));
    if (index == kNoBatch) {
      // Every record is in flight: slower, never wrong, and counted.
      CounterBlock::bump(counters_->loop(gso_pool_empty));
      sends_->send_each(*rule, bid, payload, len);
      return;
    }
    rule->open_batch = index;
  }
  SendBatch& b = batches_.at(rule->open_batch);
  b.add(bid, payload, len);
  if (b.count == SendBatch::kMaxSegments || b.closed) flush(rule);
}

void GsoBatcher::flush(const Rule* rule) {
  const uint32_t index = rule->open_batch;
  rule->open_batch = kNoBatch;
  SendBatch& b = batches_.at(index);
  if (b.count == 1) {
    // Nothing to amortise: a plain SEND is cheaper than a one-segment SENDMSG.
    sends_->send_each(*rule, b.bids[0], static_cast<const uint8_t*>(b.iov[0].iov_base),
                      static_cast<uint32_t>(b.iov[0].iov_len));
    batches_.release(index);
    return;
  }
  b.seal();
  b.refs = 0;
  for (const auto& out : rule->outputs) b.refs += out->fd >= 0 ? 1 : 0;
  CounterBlock::bump(counters_->loop(gso_batches));
  CounterBlock::bump(counters_->loop(gso_datagrams), b.count);
  for (const auto& out : rule->outputs) {
    if (out->fd < 0) continue;
    io_uring_sqe* sqe = submitter_->next_sqe();
    if (sqe == nullptr) [[unlikely]] {
      // SQ still full after a submit (see SendQueue::send_one): the batch
      // is not sent on this output; counted, and its references dropped as
      // a refused completion would. The other outputs keep theirs.
      sends_->count_send_error(out.get(), EBUSY, b.count);
      sends_->release(b.bids, b.count);
      if (--b.refs == 0) batches_.release(index);
      continue;
    }
    io_uring_prep_sendmsg(sqe, out->fd, &b.msg, 0);
    sqe->user_data = send_tag(Op::send_batch, index, out->slot);
    sends_->queued(out.get());
  }
}

void GsoBatcher::flush_open() {
  for (const Rule* rule : open_rules_) {
    rule->open_listed = false;
    if (rule->open_batch != kNoBatch) flush(rule);
  }
  open_rules_.clear();
}

void GsoBatcher::on_completion(const io_uring_cqe* cqe) {
  const uint32_t slot = output_slot_of(cqe->user_data);
  const uint32_t index = batch_of(cqe->user_data);
  Output* out = sends_->completed(slot);
  SendBatch& b = batches_.at(index);
  if (cqe->res >= 0) {
    CounterBlock::bump(counters_->output(slot, OutputCounter::packets), b.count);
    CounterBlock::bump(counters_->output(slot, OutputCounter::bytes), static_cast<uint64_t>(cqe->res));
    CounterBlock::bump(counters_->loop(sent), b.count);
    CounterBlock::bump(counters_->loop(sent_bytes), static_cast<uint64_t>(cqe->res));
    if (out->gso_retrying) [[unlikely]] {
      // The first batch a retry let through: the output takes them again.
      out->gso_retrying = false;
      if (!logs_->push(LogEvent{LogLevel::info, "MCR_GSO_RESUMED", "UDP_SEGMENT accepted again on output; sending in batches",
                                0, static_cast<int64_t>(out->slot), 1})) {
        CounterBlock::bump(counters_->loop(logs_dropped));
      }
    }
  } else if ((cqe->res == -EMSGSIZE || cqe->res == -EIO || cqe->res == -EINVAL) && !out->retired) {
    // The output cannot take UDP_SEGMENT: EMSGSIZE when a datagram is larger
    // than its MTU (a single send would be fragmented instead), EIO on older
    // kernels when its device has no checksum offload. It sends one by one
    // from now on, starting with these datagrams, whose references pass to
    // the new sends. Batches already in flight come back refused too and
    // are re-sent the same way. About a second later retry() lets it try a
    // batch again: the MTU may be back up, and nothing else would tell the
    // loop (a rule sync builds new outputs, but mcrd does not sync on an MTU
    // change, and mcr-relay never does).
    if (out->gso_ok) {
      out->gso_ok = false;
      out->gso_retry_tick = ticks_ + ticks_per_second_;
      gso_off_.push_back(out->slot);
      CounterBlock::bump(counters_->loop(gso_fallbacks));
      // A refused retry is counted, not logged again: one warn line per
      // outage, not one a second while the MTU stays low.
      if (!out->gso_retrying) {
        limiter_->report(out->slot, -cqe->res, errno_name(-cqe->res), "UDP_SEGMENT refused on output; sending datagram by datagram",
                         ErrorLogLimiter::Kind::gso_refused);
      }
    }
    for (uint16_t i = 0; i < b.count; ++i) {
      sends_->send_one(out, b.bids[i], static_cast<const uint8_t*>(b.iov[i].iov_base), static_cast<uint32_t>(b.iov[i].iov_len));
    }
    if (--b.refs == 0) batches_.release(index);
    return;
  } else {
    sends_->count_send_error(out, -cqe->res, b.count);
  }
  sends_->finished(out);
  sends_->release(b.bids, b.count);
  if (--b.refs == 0) batches_.release(index);
}

void GsoBatcher::on_tick(uint32_t ticks) {
  ticks_ = ticks;
  if (!gso_off_.empty()) retry();
}

void GsoBatcher::retry() {
  // On the stats tick, never per datagram: each output that fell back a
  // second ago may batch again. If its MTU is still too small the next batch
  // is refused, re-sent datagram by datagram, and the output waits another
  // second: one refused batch a second per such output is the whole cost.
  size_t kept = 0;
  for (const uint32_t slot : gso_off_) {
    Output* out = rules_->output(slot);
    // Removed (or its slot reused by an output that batches): nothing to retry.
    if (out == nullptr || out->retired || out->gso_ok) continue;
    if (static_cast<int32_t>(ticks_ - out->gso_retry_tick) < 0) {
      gso_off_[kept++] = slot;
      continue;
    }
    out->gso_ok = true;
    out->gso_retrying = true;
    CounterBlock::bump(counters_->loop(gso_retries));
  }
  gso_off_.resize(kept);
}

}  // namespace mcr
