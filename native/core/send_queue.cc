// Sends and their completions: no allocation, lock or syscall per datagram.
#include "core/send_queue.h"

#include <arpa/inet.h>

#include <cerrno>
#include <cstring>

#include "core/send_batch.h"

namespace mcr {

void SendQueue::send_each(const Rule& rule, uint16_t bid, const uint8_t* payload, uint32_t len) {
  for (const auto& out : rule.outputs) {
    if (out->fd >= 0) send_one(out.get(), bid, payload, len);
  }
}

void SendQueue::send_one(Output* out, uint16_t bid, const uint8_t* payload, uint32_t len, const InetAddress* to) {
  io_uring_sqe* sqe = submitter_->next_sqe();
  if (sqe == nullptr) [[unlikely]] {
    // The SQ is still full after a submit (the kernel refused it, e.g.
    // EBUSY with completions backed up): this datagram is not sent on this
    // output. Count it as the kernel would have and drop its reference.
    count_send_error(out, EBUSY, 1);
    release(&bid, 1);
    return;
  }
  io_uring_prep_send(sqe, out->fd, payload, len, 0);
  if (to != nullptr) {
    // The SQE points at its own slot (set_address_slots): taken only once the
    // SQE exists, so no slot is reused before the SQE that uses it was submitted.
    InetAddress& slot = addresses_[next_address_];
    if (++next_address_ == addresses_.size()) next_address_ = 0;
    slot = *to;
    io_uring_prep_send_set_addr(sqe, &slot.sa, static_cast<uint16_t>(out->dest_len));
  } else if (!out->connected) {
    io_uring_prep_send_set_addr(sqe, reinterpret_cast<const sockaddr*>(&out->dest), static_cast<uint16_t>(out->dest_len));
  }
  sqe->user_data = send_tag(Op::send, bid, out->slot);
  queued(out);
}

// The destination of one datagram on a rewriting output: its own group
// (keep), its group mapped into the output's prefix (map) or the output's
// group, and its own port or the output's. Validation keeps a
// group-rewriting output in the input's family.
static void rewritten_destination(const Output& out, const Rule& rule, const Datagram& dgram, InetAddress* to) {
  *to = out.dest;
  if (out.dest.sa.sa_family == AF_INET6) {
    if (out.group_mode == Output::GroupMode::keep && dgram.family == 6) {
      std::memcpy(&to->v6.sin6_addr, dgram.dst6, 16);
    } else if (out.group_mode == Output::GroupMode::map && dgram.family == 6) {
      prefix_map(reinterpret_cast<const uint8_t*>(&out.dest.v6.sin6_addr), rule.group_len, dgram.dst6,
                 reinterpret_cast<uint8_t*>(&to->v6.sin6_addr), 16);
    }
    if (out.keep_port) to->v6.sin6_port = htons(dgram.dst_port);
  } else {
    if (out.group_mode == Output::GroupMode::keep && dgram.family == 4) {
      to->v4.sin_addr.s_addr = dgram.dst_addr;
    } else if (out.group_mode == Output::GroupMode::map && dgram.family == 4) {
      prefix_map(reinterpret_cast<const uint8_t*>(&out.dest.v4.sin_addr), rule.group_len,
                 reinterpret_cast<const uint8_t*>(&dgram.dst_addr), reinterpret_cast<uint8_t*>(&to->v4.sin_addr), 4);
    }
    if (out.keep_port) to->v4.sin_port = htons(dgram.dst_port);
  }
}

void SendQueue::send_rewritten(const Rule& rule, uint16_t bid, const Datagram& dgram) {
  for (const auto& owned : rule.outputs) {
    Output* out = owned.get();
    if (out->fd < 0) continue;
    if (!out->rewrites()) {
      send_one(out, bid, dgram.payload, dgram.payload_len);
      continue;
    }
    InetAddress to;
    rewritten_destination(*out, rule, dgram, &to);
    send_one(out, bid, dgram.payload, dgram.payload_len, &to);
  }
}

void SendQueue::on_send(const io_uring_cqe* cqe) {
  const uint32_t slot = output_slot_of(cqe->user_data);
  const uint16_t bid = buffer_of(cqe->user_data);
  Output* out = completed(slot);
  if (cqe->res >= 0) {
    CounterBlock::bump(counters_->output(slot, OutputCounter::packets));
    CounterBlock::bump(counters_->output(slot, OutputCounter::bytes), static_cast<uint64_t>(cqe->res));
    CounterBlock::bump(counters_->loop(sent));
    CounterBlock::bump(counters_->loop(sent_bytes), static_cast<uint64_t>(cqe->res));
  } else {
    count_send_error(out, -cqe->res, 1);
  }
  finished(out);
  if (pool_->release(bid)) ingress_->release(&bid, 1);
}

void SendQueue::release(const uint16_t* bids, uint32_t n) {
  // One call into the ingress per completion, not per datagram: collect the
  // freed ids first (a batch completion frees up to kMaxSegments at once).
  uint16_t freed[SendBatch::kMaxSegments];
  uint32_t count = 0;
  for (uint32_t i = 0; i < n; ++i) {
    if (!pool_->release(bids[i])) continue;
    freed[count++] = bids[i];
    if (count == SendBatch::kMaxSegments) {
      ingress_->release(freed, count);
      count = 0;
    }
  }
  if (count > 0) ingress_->release(freed, count);
}

void SendQueue::count_send_error(Output* out, int err, uint32_t datagrams) {
  OutputCounter column = OutputCounter::err_other;
  switch (err) {
    case EAGAIN: column = OutputCounter::err_eagain; break;
    case ENOBUFS: column = OutputCounter::err_enobufs; break;
    case EHOSTUNREACH: column = OutputCounter::err_ehostunreach; break;
    case ENETUNREACH: column = OutputCounter::err_enetunreach; break;
    case ENETDOWN: column = OutputCounter::err_enetdown; break;
    case EPERM: column = OutputCounter::err_eperm; break;
    case ECONNREFUSED: column = OutputCounter::err_econnrefused; break;
    case EMSGSIZE: column = OutputCounter::err_emsgsize; break;
    case ENODEV: column = OutputCounter::err_enodev; break;
    case EADDRNOTAVAIL: column = OutputCounter::err_eaddrnotavail; break;
    default: break;
  }
  CounterBlock::bump(counters_->output(out->slot, OutputCounter::errors), datagrams);
  CounterBlock::bump(counters_->output(out->slot, column), datagrams);
  CounterBlock::set(counters_->output(out->slot, OutputCounter::last_errno), static_cast<uint64_t>(err));
  CounterBlock::bump(counters_->loop(send_errors), datagrams);
  limiter_->report(out->slot, err, errno_name(err), "send failed on output");  // counts a dropped line itself
}

}  // namespace mcr
