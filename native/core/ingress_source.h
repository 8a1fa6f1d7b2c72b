// How frames come in, behind one interface that RelayLoop::setup() chooses
// an implementation of once (--ingress): RingIngress (ring_ingress.h, the
// default: a TPACKET_V2 ring walked after a multishot poll) or
// MultishotIngress (multishot_ingress.h: a multishot recv into a
// provided-buffer ring). Either way the source owns the one receive request
// in the loop's ring, the memory frames land in, indexed by a 16-bit buffer
// id, and the policy for pausing when too many sends are in flight.
//
// Virtual calls through this interface are made per completion (a receive
// completion; a send completion giving buffers back) or per turn, none per
// frame of a ring walk: a source hands each frame to
// FrameForwarder::on_frame() with a direct call, and gives back itself a
// frame the forwarder dropped. (With multishot ingress a receive completion
// is one frame.) What both share, the receive request's arm, end and
// cancel, is implemented here; the rest is virtual.
#pragma once
#include <liburing.h>

#include <cstdint>

#include "core/buffer_pool.h"
#include "core/counters.h"
#include "core/log_ring.h"
#include "core/loop_options.h"
#include "core/submitter.h"

namespace mcr {

class FrameForwarder;
class SendQueue;

// What a source works with; all owned by the loop, which outlives the source.
struct IngressParts {
  const LoopOptions* opts;
  io_uring* ring;
  Submitter* submitter;
  SendQueue* sends;            // in-flight count for back-pressure
  FrameForwarder* forwarder;   // where frames go
  BufferPool* pool;            // reference counts per buffer id (the source sizes it in setup())
  CounterBlock* counters;
  ErrorLogLimiter* limiter;
};

class IngressSource {
 public:
  virtual ~IngressSource() = default;
  IngressSource(const IngressSource&) = delete;
  IngressSource& operator=(const IngressSource&) = delete;

  // Maps the ring or registers the buffers and sizes the pool's reference
  // counts. 0 or -errno; `failed_step` names the call.
  virtual int setup(const char** failed_step) = 0;

  // Posts the receive request (recv_arms counts them).
  void arm();
  // A completion of the receive request: notes its end (no
  // IORING_CQE_F_MORE) and counts an error (ENOBUFS, no free provided
  // buffer, as recv_buffer_exhausted; a cancel's ECANCELED not at all;
  // anything else as recv_errors with a log line); otherwise the source's part.
  void on_completion(const io_uring_cqe* cqe);
  // Stop: cancels the receive; no frame is taken after this.
  void stop();
  // Once a turn while stopping: a cancel that found no SQE (the SQ still
  // full after a submit the kernel refused) is asked for again, else the
  // receive would stay armed and the loop would never drain.
  void keep_stopping();
  bool armed() const { return armed_; }
  // Back-pressure holds receiving until in-flight sends halve.
  bool paused() const { return paused_; }

  // After each top-level reap, outside any reap: take what arrived.
  virtual void after_reap() = 0;
  // The last after_reap() stopped at the coalescing burst cap with frames
  // still waiting (ring ingress only; loop_options.h kCoalesceBurstSends).
  virtual bool burst_capped() const { return false; }
  // New frames can be seen without entering the kernel (a shared-memory
  // ring): after a pause the loop walks at once instead of making an
  // io_uring_enter call first. A source whose frames arrive as completions
  // needs that call (DEFER_TASKRUN posts them only there).
  virtual bool frames_visible_without_enter() const { return false; }
  // Once a turn (not while stopping): pause or resume taking frames by the
  // number of sends in flight, and re-arm an ended receive when allowed.
  virtual void update_backpressure() = 0;
  // No send uses these buffers any more: back to the kernel. Once per send
  // completion with all the buffers it freed.
  virtual void release(const uint16_t* ids, uint32_t n) = 0;

 protected:
  explicit IngressSource(const IngressParts& parts) : p_(parts) {}
  // Fills the receive request's SQE (arm() tags and counts it).
  virtual void prep_receive(io_uring_sqe* sqe) = 0;
  // A completion of the receive request with res ≥ 0.
  virtual void on_received(const io_uring_cqe* cqe) = 0;
  // False when no SQE could be had: the caller asks again next turn.
  bool cancel() { return p_.submitter->cancel(Op::recv); }

  IngressParts p_;
  bool armed_ = false;
  bool cancelling_ = false;  // a back-pressure cancel is on its way
  bool paused_ = false;      // back-pressure: no frames taken until in-flight sends halve
  bool stopping_ = false;
  bool stop_cancel_queued_ = false;  // stop()'s cancel has an SQE (keep_stopping() retries it)
};

}  // namespace mcr
