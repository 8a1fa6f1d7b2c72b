// UDP_SEGMENT batching on the loop thread (send_batch.h has the records).
// While the ring is walked, each rule keeps at most one open batch: a
// datagram of the batch's length joins it, any other closes it (flush) and
// starts a new one; a batch also goes out when full, when a shorter datagram
// ended it, and at the end of the walk (flush_open()). A rule with an open
// batch is listed once per walk. Flushing queues one SENDMSG per live output,
// all sharing the batch's msghdr, or plain SENDs for a batch of one.
//
// Also here: what a batch completion does, including the fallback of an
// output that refuses UDP_SEGMENT to single SENDs, and the stats tick's
// retry that lets such an output batch again about a second later.
#pragma once
#include <liburing.h>

#include <cstdint>
#include <vector>

#include "core/counters.h"
#include "core/log_ring.h"
#include "core/loop_rules.h"
#include "core/rule_table.h"
#include "core/send_batch.h"
#include "core/send_queue.h"
#include "core/submitter.h"

namespace mcr {

class GsoBatcher {
 public:
  GsoBatcher(Submitter* submitter, SendQueue* sends, const LoopRules* rules, CounterBlock* counters, LogRing* logs,
             ErrorLogLimiter* limiter)
      : submitter_(submitter), sends_(sends), rules_(rules), counters_(counters), logs_(logs), limiter_(limiter) {}
  // `records` batch records; room to remember `output_slots` fallen-back
  // outputs; `ticks_per_second` stats ticks make the retry delay.
  void init(uint32_t records, uint32_t output_slots, uint32_t ticks_per_second);

  // A held datagram of `rule` (one reference per live output): into the
  // rule's open batch, or sent alone when the rule cannot batch.
  void add(const Rule* rule, uint16_t bid, const uint8_t* payload, uint32_t len);
  // End of a walk: every open batch goes out.
  void flush_open();
  // Completion of a batch's SENDMSG to one output.
  void on_completion(const io_uring_cqe* cqe);
  // Stats tick number `ticks`: outputs whose fallback is a second old try batches again.
  void on_tick(uint32_t ticks);

 private:
  static bool rule_can_batch(const Rule& rule);
  void flush(const Rule* rule);
  void retry();

  Submitter* submitter_;
  SendQueue* sends_;
  const LoopRules* rules_;
  CounterBlock* counters_;
  LogRing* logs_;
  ErrorLogLimiter* limiter_;
  SendBatchPool batches_;
  std::vector<const Rule*> open_rules_;  // rules with an open batch this walk
  std::vector<uint32_t> gso_off_;        // slots of outputs that fell back, until retried (retry())
  uint32_t ticks_ = 0;                   // the last stats tick seen
  uint32_t ticks_per_second_ = 1;
};

}  // namespace mcr
