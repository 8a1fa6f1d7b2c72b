// UDP GSO send batches. Under load the relay finds several datagrams of one
// flow waiting in the ring at once; instead of one trip through the UDP/IP
// stack (route lookup, skb, device transmit, and in a veth lab one RPS IPI)
// per datagram and output, it hands the kernel up to kMaxSegments of them in
// one SENDMSG with UDP_SEGMENT, and the kernel (or the NIC) cuts them into
// the same datagrams on the way out. The iovecs point into the receive ring:
// no user-space copy, and the records come from a fixed pool: no malloc.
//
// A batch holds datagrams of equal length; only the last may be shorter
// (the UDP_SEGMENT contract). One record serves all outputs of a rule: each
// output's SENDMSG shares the msghdr, so outputs must be connected sockets.
#pragma once
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstdint>
#include <vector>

namespace mcr {

constexpr uint32_t kNoBatch = UINT32_MAX;

struct SendBatch {
  // Linux accepts 64 segments on every kernel we support (6.x raised it to
  // 128 later); 64 already amortises the stack to under 2 % per datagram.
  static constexpr uint16_t kMaxSegments = 64;
  // One UDP datagram's worth: the GSO super-packet is one datagram to IP.
  static constexpr uint32_t kMaxBytes = 65507;

  msghdr msg{};
  iovec iov[kMaxSegments];
  uint16_t bids[kMaxSegments];
  alignas(cmsghdr) uint8_t control[CMSG_SPACE(sizeof(uint16_t))];
  uint16_t count = 0;     // datagrams in the batch
  uint16_t seg_size = 0;  // payload bytes of every datagram but the last
  uint32_t bytes = 0;     // payload bytes in all
  uint32_t refs = 0;      // SENDMSGs in flight that use this record
  bool closed = false;    // the last datagram was shorter: nothing may follow

  // Whether a datagram of `len` bytes may be sent in a batch at all: not an
  // empty one. The kernel cuts a UDP_SEGMENT send into datagrams only when
  // it holds more than one segment's bytes, so empty datagrams in a batch
  // would leave as one, and one behind a full datagram as nothing.
  static bool batchable(uint32_t len) { return len != 0; }
  // Whether a datagram of `len` bytes may join (equal length, or shorter as the last).
  bool accepts(uint32_t len) const {
    return batchable(len) && !closed && count < kMaxSegments && len <= seg_size && bytes + len <= kMaxBytes;
  }
  void add(uint16_t bid, const uint8_t* payload, uint32_t len);
  // Fills msg/control for a SENDMSG of the whole batch (UDP_SEGMENT = seg_size).
  void seal();
};

// Fixed set of records, handed out by index (the index rides in user_data).
class SendBatchPool {
 public:
  void init(uint32_t count);
  // A cleared record's index, or kNoBatch when all are in use (the caller
  // then sends datagram by datagram: slower, never wrong).
  uint32_t acquire(uint16_t seg_size);
  void release(uint32_t index) { free_.push_back(index); }
  SendBatch& at(uint32_t index) { return records_[index]; }
  uint32_t in_use() const { return static_cast<uint32_t>(records_.size() - free_.size()); }

 private:
  std::vector<SendBatch> records_;
  std::vector<uint32_t> free_;
};

}  // namespace mcr
