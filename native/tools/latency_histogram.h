// Latency histogram for mcrsink: counts samples in log-linear buckets
// (HdrHistogram's layout) so percentiles of millions of datagrams cost a
// fixed 90 KiB, not a sample each.
//
// Buckets, in nanoseconds: 1 µs wide from 0 to 1024 µs (bucket i holds
// [i, i + 1) µs), then each power of two of microseconds [2^k, 2^(k+1)),
// k = 10 ... 29, split into 512 equal buckets (width 2^(k-9) µs, i.e. at
// most 0.2 % of the value). Samples of 2^30 µs (about 18 minutes) or more
// land in the last bucket and are counted as overflow. Negative samples (a
// receive time before the send time: only a clock step can do that) are
// counted apart and not recorded.
//
// value_at_percentile(p) is the upper edge of the bucket that holds the
// sample of rank ceil(p / 100 × count) (so at least p % of the samples are
// at or below it), clamped to the exact minimum and maximum, which are kept
// beside the buckets: percentiles never fall outside [min, max] and never
// decrease as p grows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

class LatencyHistogram {
 public:
  static constexpr uint64_t kLinearUs = 1024;   // 1 µs buckets below this
  static constexpr int kSubBuckets = 512;       // per power of two above
  static constexpr int kTopPower = 30;          // 2^30 µs and above: overflow
  static constexpr size_t kBuckets = kLinearUs + static_cast<size_t>(kTopPower - 10) * kSubBuckets;

  LatencyHistogram() : counts_(kBuckets, 0) {}

  // Records one sample, in nanoseconds (negative: counted in negative()).
  void record(int64_t ns);

  uint64_t count() const { return count_; }
  uint64_t negative() const { return negative_; }
  uint64_t overflow() const { return overflow_; }
  // Exact extremes and mean, ns; 0 when empty.
  uint64_t min_ns() const { return count_ > 0 ? min_ns_ : 0; }
  uint64_t max_ns() const { return max_ns_; }
  double mean_ns() const { return count_ > 0 ? static_cast<double>(sum_ns_) / static_cast<double>(count_) : 0; }
  // See the top of the file; 0 when empty. p in [0, 100].
  uint64_t value_at_percentile(double p) const;

  // Bucket layout, public for the unit tests: the bucket of a value and the
  // [low, high) ns range a bucket covers.
  static size_t bucket_of(uint64_t ns);
  static uint64_t bucket_low_ns(size_t bucket);
  static uint64_t bucket_high_ns(size_t bucket);

 private:
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  uint64_t negative_ = 0;
  uint64_t overflow_ = 0;
  uint64_t min_ns_ = UINT64_MAX;
  uint64_t max_ns_ = 0;
  // 2^64 ns is 584 years of summed latency: no overflow in any real run.
  uint64_t sum_ns_ = 0;
};
