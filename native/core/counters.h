// Counter block shared between the loop thread (the only writer of the
// numbers) and the TypeScript thread (reader, through an external
// ArrayBuffer). Plain 64-bit relaxed stores: aligned, so never torn on the
// 64-bit targets we build for, and free of locks and syscalls on the hot path.
//
// Layout, in uint64 units: [loop fields][rule slots × rule fields][output
// slots × output fields]. A slot's `state` word is the one field both threads
// write: the TS thread claims free slots (0 → 1) when it builds a rule, the
// loop releases them (→ 0) once nothing in flight refers to them any more.
#pragma once
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

#include "core/frame_parser.h"

namespace mcr {

#define MCR_LOOP_COUNTERS(X)                                                  \
  X(frames) X(frame_bytes) X(matched) X(no_rule)                              \
  X(drop_short_ethernet) X(drop_not_ipv4) X(drop_bad_ihl)                     \
  X(drop_bad_ip_length) X(drop_fragment) X(drop_not_udp)                      \
  X(drop_bad_udp_length) X(drop_oversize) X(drop_ipv6_fragment)              \
  X(drop_bad_ipv6_header) X(drop_own_frame)                                  \
  X(kernel_packets) X(kernel_drops) X(sends_queued) X(sent) X(sent_bytes)     \
  X(send_errors) X(submit_calls) X(recv_arms) X(recv_buffer_exhausted)        \
  X(recv_errors) X(backpressure_pauses) X(inflight_sends) X(inflight_buffers) \
  X(commands) X(loop_iterations) X(logs_dropped)                             \
  X(gso_batches) X(gso_datagrams) X(gso_fallbacks) X(coalesce_waits)        \
  X(gso_pool_empty) X(busy_poll_turns) X(gso_retries)                        \
  X(busy_poll_starts) X(busy_permille) X(coalesce_capped)                   \
  X(busy_poll_contended) X(drop_excluded) X(rt_stepdowns)                      \
  X(rt_stepped_down)

// drop_own_frame is not a parser reason (DropReason): frame_forwarder.cc
// counts a well-formed frame whose Ethernet source is the MAC of one of its
// rule's outputs there (a frame this rule sent, looped back to its input).
//
// inflight_sends, inflight_buffers, busy_permille and rt_stepped_down are
// gauges (they fall as well as rise; bench/soak/counters.ts LOOP_GAUGES);
// the rest only grow.
//
// last_rx_ms: the wall-clock time (Unix ms) of the stats tick that first saw
// the packets count grow, 0 before the first datagram (the loop's timer
// sets it: nothing per datagram); last_rx_mono_ms: the same tick on
// CLOCK_MONOTONIC (ms), which mcrd's loss-of-signal watch judges by, since
// the wall clock can step (NTP, an operator) and a step back would keep a
// stopped stream `up` for as long as the step. rtp_* and ts_* are the stream monitor's
// (stream_monitor.h); rtp_jitter is a gauge in RTP clock units (90 kHz).
#define MCR_RULE_COUNTERS(X)                                                  \
  X(state) X(packets) X(bytes) X(last_rx_ms) X(last_rx_mono_ms)              \
  X(rtp_lost) X(rtp_duplicates) X(rtp_reordered) X(rtp_ssrc_changes)         \
  X(rtp_invalid) X(rtp_jitter)                                                \
  X(ts_sync_byte_errors) X(ts_sync_losses) X(ts_cc_errors) X(ts_pid_overflow)

// Errnos the issue and the design name get their own column, and so do the
// two an output counts while its interface is gone or has no address (the
// rule was built without a socket, Output::down_errno: ENODEV, EADDRNOTAVAIL);
// anything else lands in err_other with its value kept in last_errno. Every
// column named err_<errno> reaches `mcrctl stats --json` as
// errorsByErrno.<ERRNO> (worker/counters.ts) without further code.
#define MCR_OUTPUT_COUNTERS(X)                                                \
  X(state) X(packets) X(bytes) X(errors) X(err_eagain) X(err_enobufs)         \
  X(err_ehostunreach) X(err_enetunreach) X(err_enetdown) X(err_eperm)         \
  X(err_econnrefused) X(err_emsgsize) X(err_enodev) X(err_eaddrnotavail)      \
  X(err_other) X(last_errno)

#define MCR_ENUM_ENTRY(name) name,
enum LoopCounter : uint32_t { MCR_LOOP_COUNTERS(MCR_ENUM_ENTRY) kLoopCounterCount };
enum class RuleCounter : uint32_t { MCR_RULE_COUNTERS(MCR_ENUM_ENTRY) count_ };
enum class OutputCounter : uint32_t { MCR_OUTPUT_COUNTERS(MCR_ENUM_ENTRY) count_ };
#undef MCR_ENUM_ENTRY
constexpr uint32_t kRuleCounterCount = static_cast<uint32_t>(RuleCounter::count_);
constexpr uint32_t kOutputCounterCount = static_cast<uint32_t>(OutputCounter::count_);

static_assert(LoopCounter::drop_short_ethernet + static_cast<uint32_t>(DropReason::oversize) - 1 ==
                  LoopCounter::drop_oversize,
              "drop counters must follow DropReason order");
static_assert(LoopCounter::drop_short_ethernet + static_cast<uint32_t>(DropReason::count_) - 2 ==
                  LoopCounter::drop_bad_ipv6_header,
              "drop counters must follow DropReason order, to its last reason");

enum SlotState : uint64_t { slot_free = 0, slot_active = 1 };

class CounterBlock {
 public:
  CounterBlock(uint32_t rule_slots, uint32_t output_slots)
      : rule_slots_(rule_slots),
        output_slots_(output_slots),
        words_(kLoopCounterCount + size_t{rule_slots} * kRuleCounterCount +
               size_t{output_slots} * kOutputCounterCount),
        data_(new std::atomic<uint64_t>[words_]) {
    for (size_t i = 0; i < words_; ++i) data_[i].store(0, std::memory_order_relaxed);
  }

  uint32_t rule_slots() const { return rule_slots_; }
  uint32_t output_slots() const { return output_slots_; }
  size_t words() const { return words_; }
  void* data() { return data_.get(); }
  static size_t rule_offset() { return kLoopCounterCount; }
  size_t output_offset() const { return kLoopCounterCount + size_t{rule_slots_} * kRuleCounterCount; }

  std::atomic<uint64_t>& loop(LoopCounter c) { return data_[c]; }
  std::atomic<uint64_t>& rule(uint32_t slot, RuleCounter c) {
    return data_[rule_offset() + size_t{slot} * kRuleCounterCount + static_cast<uint32_t>(c)];
  }
  std::atomic<uint64_t>& output(uint32_t slot, OutputCounter c) {
    return data_[output_offset() + size_t{slot} * kOutputCounterCount + static_cast<uint32_t>(c)];
  }

  // Single-writer increment: a relaxed load plus store is enough (and far
  // cheaper than a locked add) because only the loop thread writes numbers.
  static void bump(std::atomic<uint64_t>& word, uint64_t by = 1) {
    word.store(word.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
  }
  static void set(std::atomic<uint64_t>& word, uint64_t value) { word.store(value, std::memory_order_relaxed); }

  // TS thread: claim a free slot, zeroing its numbers first so a reused slot
  // never shows a removed rule's counts. Returns -ENOSPC when full.
  int claim_rule_slot() { return claim(rule_offset(), rule_slots_, kRuleCounterCount, &next_rule_); }
  int claim_output_slot() { return claim(output_offset(), output_slots_, kOutputCounterCount, &next_output_); }
  // Loop thread (or TS thread for slots never handed over): give a slot back.
  void release_rule_slot(uint32_t slot) { rule(slot, RuleCounter::state).store(slot_free, std::memory_order_release); }
  void release_output_slot(uint32_t slot) {
    output(slot, OutputCounter::state).store(slot_free, std::memory_order_release);
  }

 private:
  // Next fit: the search starts after the slot claimed last and wraps. A
  // scan from slot 0 every time made a sync of 10 000 rules quadratic (each
  // claim walked past every slot in use); slots are freed roughly in the
  // order they were claimed, so the cursor mostly finds a free one at once.
  int claim(size_t base, uint32_t slots, uint32_t width, uint32_t* cursor) {
    for (uint32_t n = 0; n < slots; ++n) {
      const uint32_t s = (*cursor + n) % slots;
      std::atomic<uint64_t>* words = &data_[base + size_t{s} * width];
      if (words[0].load(std::memory_order_acquire) != slot_free) continue;
      for (uint32_t f = 1; f < width; ++f) words[f].store(0, std::memory_order_relaxed);
      words[0].store(slot_active, std::memory_order_release);
      *cursor = (s + 1) % slots;
      return static_cast<int>(s);
    }
    return -ENOSPC;
  }

  uint32_t rule_slots_;
  uint32_t output_slots_;
  // Where the next claim starts looking; claims happen on the TS thread only.
  uint32_t next_rule_ = 0;
  uint32_t next_output_ = 0;
  size_t words_;
  std::unique_ptr<std::atomic<uint64_t>[]> data_;
};

}  // namespace mcr
