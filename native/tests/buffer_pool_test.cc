// Tests for mcr::BufferPool: init's argument checks (the provided-buffer ring
// needs a power-of-two count no larger than 32768), buffer addresses being
// distinct, evenly spaced and writable end to end, and the fan-out reference
// counting that decides when a receive buffer may go back to the kernel.
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <set>
#include <vector>

#include "core/buffer_pool.h"
#include "tests/test_harness.h"

namespace {

using mcr::BufferPool;

int init_result(uint32_t count, uint32_t size) {
  BufferPool pool;
  return pool.init(count, size);
}

TEST(pool_init_rejects_bad_arguments) {
  CHECK_EQ(init_result(0, 2048), -EINVAL);
  for (uint32_t count : {3u, 6u, 100u, 1000u, 32767u}) CHECK_EQ(init_result(count, 2048), -EINVAL);
  CHECK_EQ(init_result(65536, 64), -EINVAL);
  CHECK_EQ(init_result(32769, 64), -EINVAL);
  CHECK_EQ(init_result(0x80000000u, 64), -EINVAL);
  CHECK_EQ(init_result(8, 63), -EINVAL);
  CHECK_EQ(init_result(8, 0), -EINVAL);
}

TEST(pool_rejected_init_leaves_pool_empty) {
  BufferPool pool;
  CHECK_EQ(pool.init(3, 2048), -EINVAL);
  CHECK_EQ(pool.count(), 0u);
  CHECK_EQ(pool.size(), 0u);
  CHECK_EQ(pool.held(), 0u);
}

TEST(pool_init_accepts_limits) {
  CHECK_EQ(init_result(1, 64), 0);
  CHECK_EQ(init_result(2, 64), 0);
  CHECK_EQ(init_result(32768, 64), 0);
  BufferPool pool;
  CHECK_EQ(pool.init(16, 2048), 0);
  CHECK_EQ(pool.count(), 16u);
  CHECK_EQ(pool.size(), 2048u);
  CHECK_EQ(pool.held(), 0u);
  for (uint16_t bid = 0; bid < 16; ++bid) CHECK_EQ(pool.refs(bid), 0u);
}

TEST(pool_addresses_distinct_size_apart_and_writable) {
  // 2050 is deliberately not a multiple of 8 or of the page size.
  for (uint32_t size : {64u, 2048u, 2050u, 9216u}) {
    BufferPool pool;
    REQUIRE(pool.init(32, size) == 0);
    std::set<const uint8_t*> seen;
    for (uint16_t bid = 0; bid < 32; ++bid) {
      uint8_t* p = pool.address(bid);
      CHECK(p != nullptr);
      CHECK(seen.insert(p).second);
      CHECK(p == pool.address(0) + size_t{bid} * size);
    }
    // Fill every byte of every buffer with a per-buffer value, then read it
    // all back: an overlap or short mapping would show as a wrong byte (or a
    // fault under valgrind).
    for (uint16_t bid = 0; bid < 32; ++bid) std::memset(pool.address(bid), bid + 1, size);
    size_t wrong = 0;
    for (uint16_t bid = 0; bid < 32; ++bid) {
      const uint8_t* p = pool.address(bid);
      for (uint32_t i = 0; i < size; ++i) wrong += p[i] != static_cast<uint8_t>(bid + 1);
    }
    CHECK_EQ(wrong, 0u);
  }
}

TEST(pool_buffers_page_aligned_base) {
  BufferPool pool;
  REQUIRE(pool.init(4, 2048) == 0);
  CHECK_EQ(reinterpret_cast<uintptr_t>(pool.address(0)) % 4096, 0u);
}

TEST(pool_fan_out_last_release_frees) {
  BufferPool pool;
  REQUIRE(pool.init(8, 2048) == 0);
  pool.hold(3, 3);
  CHECK_EQ(pool.held(), 1u);
  CHECK_EQ(pool.refs(3), 3u);
  CHECK(!pool.release(3));
  CHECK_EQ(pool.held(), 1u);
  CHECK_EQ(pool.refs(3), 2u);
  CHECK(!pool.release(3));
  CHECK_EQ(pool.held(), 1u);
  CHECK(pool.release(3));
  CHECK_EQ(pool.held(), 0u);
  CHECK_EQ(pool.refs(3), 0u);
  // The freed buffer can be held again.
  pool.hold(3, 2);
  CHECK_EQ(pool.held(), 1u);
  CHECK(!pool.release(3));
  CHECK(pool.release(3));
  CHECK_EQ(pool.held(), 0u);
}

TEST(pool_single_ref_frees_on_first_release) {
  BufferPool pool;
  REQUIRE(pool.init(4, 64) == 0);
  pool.hold(0, 1);
  CHECK_EQ(pool.held(), 1u);
  CHECK(pool.release(0));
  CHECK_EQ(pool.held(), 0u);
  pool.hold(3, 1);  // last buffer
  CHECK(pool.release(3));
  CHECK_EQ(pool.held(), 0u);
}

TEST(pool_many_buffers_interleaved) {
  constexpr uint32_t kCount = 1024;
  BufferPool pool;
  REQUIRE(pool.init(kCount, 128) == 0);
  // Buffer b is held by (b % 10) + 1 sends: fan-out 1..10, as in the benchmarks.
  std::vector<uint32_t> pending(kCount);
  for (uint32_t b = 0; b < kCount; ++b) {
    pending[b] = b % 10 + 1;
    pool.hold(static_cast<uint16_t>(b), pending[b]);
  }
  CHECK_EQ(pool.held(), kCount);
  // Completions arrive round-robin across buffers, one per buffer per pass,
  // the way sends for different frames interleave in the completion queue.
  uint32_t freed = 0;
  uint32_t early = 0;  // a release reporting free before its last reference
  uint32_t late = 0;   // the last release not reporting free
  for (uint32_t pass = 0; pass < 10; ++pass) {
    for (uint32_t b = 0; b < kCount; ++b) {
      if (pending[b] == 0) continue;
      const bool last = --pending[b] == 0;
      const bool freed_now = pool.release(static_cast<uint16_t>(b));
      if (freed_now && !last) ++early;
      if (!freed_now && last) ++late;
      if (freed_now) ++freed;
    }
    uint32_t still_held = 0;
    for (uint32_t b = 0; b < kCount; ++b) still_held += pending[b] != 0;
    CHECK_EQ(pool.held(), still_held);
  }
  CHECK_EQ(early, 0u);
  CHECK_EQ(late, 0u);
  CHECK_EQ(freed, kCount);
  CHECK_EQ(pool.held(), 0u);
}

}  // namespace
