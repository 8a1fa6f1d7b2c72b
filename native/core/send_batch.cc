// Send batch records: filling, sealing into a SENDMSG header, and the pool.
#include "core/send_batch.h"

#include <netinet/udp.h>

#include <cstring>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103  // linux/udp.h; glibc's netinet/udp.h has it only since 2.29
#endif

namespace mcr {

void SendBatch::add(uint16_t bid, const uint8_t* payload, uint32_t len) {
  iov[count].iov_base = const_cast<uint8_t*>(payload);
  iov[count].iov_len = len;
  bids[count] = bid;
  ++count;
  bytes += len;
  if (len < seg_size) closed = true;
}

void SendBatch::seal() {
  std::memset(&msg, 0, sizeof(msg));
  std::memset(control, 0, sizeof(control));
  msg.msg_iov = iov;
  msg.msg_iovlen = count;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_UDP;
  c->cmsg_type = UDP_SEGMENT;
  c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
  const uint16_t size = seg_size;
  std::memcpy(CMSG_DATA(c), &size, sizeof(size));
}

void SendBatchPool::init(uint32_t count) {
  records_.assign(count, SendBatch{});
  free_.clear();
  free_.reserve(count);
  for (uint32_t i = count; i > 0; --i) free_.push_back(i - 1);
}

uint32_t SendBatchPool::acquire(uint16_t seg_size) {
  if (free_.empty()) return kNoBatch;
  const uint32_t index = free_.back();
  free_.pop_back();
  SendBatch& b = records_[index];
  b.count = 0;
  b.bytes = 0;
  b.refs = 0;
  b.closed = false;
  b.seg_size = seg_size;
  return index;
}

}  // namespace mcr
