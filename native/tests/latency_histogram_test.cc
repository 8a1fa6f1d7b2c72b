// Tests for mcrsink's latency histogram: the bucket layout (1 µs buckets to
// 1024 µs, 512 per power of two above, every value inside its bucket's
// range), the percentile rule (upper edge of the bucket holding sample
// ceil(p% × count), clamped to the exact min and max) on known
// distributions, and the counts kept apart (negative samples, overflow).
#include <cstdint>

#include "tests/test_harness.h"
#include "tools/latency_histogram.h"

namespace {

using H = LatencyHistogram;

TEST(latency_histogram_buckets_are_one_microsecond_below_1024_us) {
  CHECK_EQ(H::bucket_of(0), 0u);
  CHECK_EQ(H::bucket_of(999), 0u);
  CHECK_EQ(H::bucket_of(1000), 1u);
  CHECK_EQ(H::bucket_of(30'500), 30u);
  CHECK_EQ(H::bucket_of(1'023'999), 1023u);
  CHECK_EQ(H::bucket_low_ns(30), 30'000u);
  CHECK_EQ(H::bucket_high_ns(30), 31'000u);
}

TEST(latency_histogram_buckets_above_1024_us_keep_0_2_percent) {
  // 1024 µs starts the first log range, 2 µs wide buckets.
  CHECK_EQ(H::bucket_of(1'024'000), 1024u);
  CHECK_EQ(H::bucket_of(1'025'999), 1024u);
  CHECK_EQ(H::bucket_of(1'026'000), 1025u);
  CHECK_EQ(H::bucket_of(2'048'000), 1024u + 512u);  // next power: 4 µs wide
  CHECK_EQ(H::bucket_high_ns(1024u + 512u) - H::bucket_low_ns(1024u + 512u), 4'000u);
  // Every bucket's range contains the values that map to it, ranges abut,
  // and the width never exceeds 1/512 of the low edge above 1024 µs.
  for (size_t b = 0; b + 1 < H::kBuckets; b++) {
    const uint64_t lo = H::bucket_low_ns(b), hi = H::bucket_high_ns(b);
    REQUIRE(hi > lo);
    CHECK_EQ(H::bucket_of(lo), b);
    CHECK_EQ(H::bucket_of(hi - 1), b);
    CHECK_EQ(H::bucket_low_ns(b + 1), hi);
    if (lo >= 1'024'000) CHECK((hi - lo) * 512 <= lo);
  }
  CHECK_EQ(H::bucket_of(UINT64_MAX), H::kBuckets - 1);
}

TEST(latency_histogram_percentiles_of_a_uniform_1_to_1000_us) {
  H h;
  for (int us = 1; us <= 1000; us++) h.record(us * 1000LL);
  CHECK_EQ(h.count(), 1000u);
  CHECK_EQ(h.min_ns(), 1'000u);
  CHECK_EQ(h.max_ns(), 1'000'000u);
  // Sample 500 is 500 µs, in bucket [500, 501) µs: reported as its upper edge.
  CHECK_EQ(h.value_at_percentile(50), 501'000u);
  CHECK_EQ(h.value_at_percentile(99), 991'000u);
  CHECK_EQ(h.value_at_percentile(99.9), 1'000'000u);  // rank 999: [999, 1000) -> 1000, the max
  CHECK_EQ(h.value_at_percentile(100), 1'000'000u);
  CHECK_EQ(h.value_at_percentile(0), 2'000u);  // rank 1: [1, 2) µs
  CHECK(h.mean_ns() > 500'499.0 && h.mean_ns() < 500'501.0);
}

TEST(latency_histogram_tail_samples_show_in_p99_9_and_max_only) {
  // 9990 samples at 20 µs, 10 at 5 ms: p50 and p99 see 20 µs, p99.9 the
  // last of the fast ones, p99.91 and max the slow ones.
  H h;
  for (int i = 0; i < 9990; i++) h.record(20'400);
  for (int i = 0; i < 10; i++) h.record(5'000'000);
  CHECK_EQ(h.value_at_percentile(50), 21'000u);  // [20, 21) µs, reported as its upper edge
  CHECK_EQ(h.value_at_percentile(99), 21'000u);
  CHECK_EQ(h.value_at_percentile(99.9), 21'000u);
  CHECK_EQ(h.value_at_percentile(99.95), 5'000'000u);  // the bucket's edge, clamped to the exact max
  CHECK_EQ(h.max_ns(), 5'000'000u);
}

TEST(latency_histogram_percentiles_never_exceed_max_or_go_down) {
  H h;
  uint64_t x = 88172645463325252ull;
  for (int i = 0; i < 100000; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    h.record(static_cast<int64_t>(x % 50'000'000));  // 0 .. 50 ms
  }
  uint64_t last = 0;
  for (double p : {0.0, 1.0, 10.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0}) {
    const uint64_t v = h.value_at_percentile(p);
    CHECK(v >= last);
    CHECK(v >= h.min_ns());
    CHECK(v <= h.max_ns());
    last = v;
  }
  // A uniform distribution's median is near the middle (within a bucket).
  const uint64_t p50 = h.value_at_percentile(50);
  CHECK(p50 > 24'500'000u && p50 < 25'500'000u);
}

TEST(latency_histogram_counts_negative_and_overflow_apart) {
  H h;
  CHECK_EQ(h.value_at_percentile(50), 0u);  // empty
  h.record(-5);
  CHECK_EQ(h.count(), 0u);
  CHECK_EQ(h.negative(), 1u);
  h.record(int64_t{1} << 62);  // far beyond 2^30 µs
  CHECK_EQ(h.count(), 1u);
  CHECK_EQ(h.overflow(), 1u);
  CHECK_EQ(h.value_at_percentile(50), uint64_t{1} << 62);  // the exact max, not the bucket edge
}

}  // namespace
