// Log-linear latency histogram (layout and percentile rule in the header).
#include "tools/latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

size_t LatencyHistogram::bucket_of(uint64_t ns) {
  const uint64_t us = ns / 1000;
  if (us < kLinearUs) return static_cast<size_t>(us);
  const int k = std::bit_width(us) - 1;  // us in [2^k, 2^(k+1)), k >= 10
  if (k >= kTopPower) return kBuckets - 1;
  const uint64_t sub = (us - (1ull << k)) >> (k - 9);  // 0 .. 511
  return static_cast<size_t>(kLinearUs + static_cast<uint64_t>(k - 10) * kSubBuckets + sub);
}

uint64_t LatencyHistogram::bucket_low_ns(size_t bucket) {
  if (bucket < kLinearUs) return bucket * 1000ull;
  const size_t i = bucket - kLinearUs;
  const int k = static_cast<int>(i / kSubBuckets) + 10;
  const uint64_t sub = i % kSubBuckets;
  return ((1ull << k) + (sub << (k - 9))) * 1000ull;
}

uint64_t LatencyHistogram::bucket_high_ns(size_t bucket) {
  if (bucket + 1 >= kBuckets) return UINT64_MAX;
  return bucket_low_ns(bucket + 1);
}

void LatencyHistogram::record(int64_t ns) {
  if (ns < 0) {
    negative_++;
    return;
  }
  const uint64_t v = static_cast<uint64_t>(ns);
  const size_t b = bucket_of(v);
  if (b == kBuckets - 1 && v / 1000 >= (1ull << kTopPower)) overflow_++;
  counts_[b]++;
  count_++;
  sum_ns_ += v;
  min_ns_ = std::min(min_ns_, v);
  max_ns_ = std::max(max_ns_, v);
}

uint64_t LatencyHistogram::value_at_percentile(double p) const {
  if (count_ == 0) return 0;
  p = std::clamp(p, 0.0, 100.0);
  // Rank of the sample asked for, 1-based: ceil(p% of count), at least 1.
  // The small epsilon keeps 99.9 % of 1000 at rank 999, not 1000, despite
  // 99.9 / 100 not being exact in binary.
  uint64_t rank = static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_) - 1e-9));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t b = 0; b < kBuckets; b++) {
    seen += counts_[b];
    if (seen >= rank) return std::clamp(bucket_high_ns(b), min_ns_, max_ns_);
  }
  return max_ns_;
}
