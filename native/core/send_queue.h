// The sends to outputs and their completions. A send points into the
// receive buffer (no copy), is counted in flight on its output and in all,
// and goes to the kernel with the Submitter's next submit. Its completion
// counts the result on the output and drops one reference on the buffer;
// the last reference gives the buffer back to the ingress source. A retired
// output (its rule removed) is closed when its last send completes.
#pragma once
#include <liburing.h>

#include <cstdint>
#include <vector>

#include "core/buffer_pool.h"
#include "core/counters.h"
#include "core/frame_parser.h"
#include "core/ingress_source.h"
#include "core/log_ring.h"
#include "core/loop_rules.h"
#include "core/rule_table.h"
#include "core/submitter.h"

namespace mcr {

class SendQueue {
 public:
  SendQueue(Submitter* submitter, CounterBlock* counters, ErrorLogLimiter* limiter, LoopRules* rules, BufferPool* pool)
      : submitter_(submitter), counters_(counters), limiter_(limiter), rules_(rules), pool_(pool) {}
  // Where freed buffers go; set once setup() chose the ingress.
  void set_ingress(IngressSource* ingress) { ingress_ = ingress; }
  // Room for the per-datagram destinations of rewriting outputs: one per SQ
  // entry. The kernel copies a SEND's address when the SQE is submitted
  // (io_send_setup at prep, Linux 6.10+), and no more SQEs than the SQ holds
  // can wait for a submit, so an entry is never reused before its SQE went.
  void set_address_slots(uint32_t n) {
    addresses_.assign(n == 0 ? 1 : n, InetAddress{});
    next_address_ = 0;
  }

  // One SEND per live output (fd ≥ 0) of the rule, all pointing at `payload`.
  void send_each(const Rule& rule, uint16_t bid, const uint8_t* payload, uint32_t len);
  // One SEND to `out`: to `to` when given (a rewritten destination, copied
  // into an address slot), else to the output's own destination.
  void send_one(Output* out, uint16_t bid, const uint8_t* payload, uint32_t len, const InetAddress* to = nullptr);
  // One SEND per live output of a rule with rewriting outputs
  // (Rule::rewrites): those get the datagram's own group or port, or its
  // group mapped into their prefix, as the send's address.
  void send_rewritten(const Rule& rule, uint16_t bid, const Datagram& dgram);
  // A send to `out` is in the SQE the Submitter gave: count it in flight.
  void queued(Output* out) {
    ++out->inflight;
    ++inflight_;
    submitter_->queued();
  }

  // Completion of a plain SEND.
  void on_send(const io_uring_cqe* cqe);
  // A send (plain or batch) to the output with this slot completed: its
  // in-flight bookkeeping. Returns the output.
  Output* completed(uint32_t slot) {
    Output* out = rules_->output(slot);
    --out->inflight;
    --inflight_;
    return out;
  }
  // After a completion's counting: a retired output whose last send this was is closed.
  void finished(Output* out) {
    if (out->retired && out->inflight == 0) rules_->destroy_retired(out);
  }
  // One send using each of these buffers is done; the buffers no send uses
  // any more go back to the ingress, in one call.
  void release(const uint16_t* bids, uint32_t n);
  // `datagrams` datagrams failed on `out` with `err`: counters and a rate-limited log line.
  void count_send_error(Output* out, int err, uint32_t datagrams);

  uint32_t inflight() const { return inflight_; }

 private:
  Submitter* submitter_;
  CounterBlock* counters_;
  ErrorLogLimiter* limiter_;
  LoopRules* rules_;
  BufferPool* pool_;
  IngressSource* ingress_ = nullptr;
  uint32_t inflight_ = 0;
  std::vector<InetAddress> addresses_ = std::vector<InetAddress>(1);
  uint32_t next_address_ = 0;
};

}  // namespace mcr
