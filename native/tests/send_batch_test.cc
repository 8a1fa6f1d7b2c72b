// Tests for mcr::SendBatch and SendBatchPool: which datagrams may join a
// batch (equal lengths, one shorter one last, at most 64 and one datagram's
// worth of bytes), the SENDMSG header a sealed batch carries (iovecs in
// order, one UDP_SEGMENT control message with the segment size), and the
// pool handing out every record once and then refusing.
#include <netinet/udp.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstring>
#include <set>

#include "core/send_batch.h"
#include "tests/test_harness.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

namespace {

using mcr::SendBatch;
using mcr::SendBatchPool;

uint8_t payload[65536];

TEST(batch_never_takes_an_empty_datagram) {
  // The kernel would not cut an empty segment out of a UDP_SEGMENT send.
  SendBatchPool pool;
  pool.init(2);
  SendBatch& b = pool.at(pool.acquire(100));
  b.add(1, payload, 100);
  CHECK(!b.accepts(0));
  CHECK(!SendBatch::batchable(0));
  CHECK(SendBatch::batchable(1));
  SendBatch& e = pool.at(pool.acquire(0));
  CHECK(!e.accepts(0));
}

TEST(batch_takes_equal_lengths_then_one_shorter_last) {
  SendBatchPool pool;
  pool.init(1);
  SendBatch& b = pool.at(pool.acquire(100));
  CHECK(b.accepts(100));
  b.add(1, payload, 100);
  CHECK(b.accepts(100));
  CHECK(!b.accepts(101));
  CHECK(b.accepts(60));
  b.add(2, payload + 100, 60);
  CHECK(b.closed);
  CHECK(!b.accepts(60));
  CHECK(!b.accepts(100));
  CHECK_EQ(b.count, 2u);
  CHECK_EQ(b.bytes, 160u);
}

TEST(batch_stops_at_64_segments_and_one_datagram_of_bytes) {
  SendBatchPool pool;
  pool.init(2);
  SendBatch& small = pool.at(pool.acquire(64));
  for (uint16_t i = 0; i < SendBatch::kMaxSegments; ++i) {
    CHECK(small.accepts(64));
    small.add(i, payload, 64);
  }
  CHECK(!small.accepts(64));
  SendBatch& big = pool.at(pool.acquire(1472));
  uint32_t taken = 0;
  while (big.accepts(1472)) {
    big.add(static_cast<uint16_t>(taken), payload, 1472);
    ++taken;
  }
  CHECK_EQ(taken, SendBatch::kMaxBytes / 1472);
  CHECK(big.bytes <= SendBatch::kMaxBytes);
}

TEST(sealed_batch_carries_iovecs_and_udp_segment) {
  SendBatchPool pool;
  pool.init(1);
  SendBatch& b = pool.at(pool.acquire(200));
  b.add(7, payload, 200);
  b.add(8, payload + 1000, 200);
  b.add(9, payload + 2000, 50);
  b.seal();
  CHECK(b.msg.msg_name == nullptr);
  CHECK_EQ(b.msg.msg_iovlen, 3u);
  CHECK(b.msg.msg_iov[1].iov_base == payload + 1000);
  CHECK_EQ(b.msg.msg_iov[2].iov_len, 50u);
  cmsghdr* c = CMSG_FIRSTHDR(&b.msg);
  CHECK(c != nullptr);
  CHECK_EQ(c->cmsg_level, SOL_UDP);
  CHECK_EQ(c->cmsg_type, UDP_SEGMENT);
  uint16_t size = 0;
  std::memcpy(&size, CMSG_DATA(c), sizeof(size));
  CHECK_EQ(size, 200u);
  CHECK(CMSG_NXTHDR(&b.msg, c) == nullptr);
  CHECK_EQ(b.bids[0], 7u);
  CHECK_EQ(b.bids[2], 9u);
}

TEST(pool_hands_out_each_record_once_and_reuses_released_ones_cleared) {
  SendBatchPool pool;
  pool.init(4);
  std::set<uint32_t> seen;
  for (int i = 0; i < 4; ++i) seen.insert(pool.acquire(10));
  CHECK_EQ(seen.size(), 4u);
  CHECK(seen.count(mcr::kNoBatch) == 0);
  CHECK_EQ(pool.acquire(10), mcr::kNoBatch);
  CHECK_EQ(pool.in_use(), 4u);
  const uint32_t back = *seen.begin();
  pool.at(back).add(1, payload, 10);
  pool.at(back).add(2, payload, 5);
  pool.release(back);
  const uint32_t again = pool.acquire(30);
  CHECK_EQ(again, back);
  CHECK_EQ(pool.at(again).count, 0u);
  CHECK_EQ(pool.at(again).bytes, 0u);
  CHECK(!pool.at(again).closed);
  CHECK_EQ(pool.at(again).seg_size, 30u);
}

}  // namespace
