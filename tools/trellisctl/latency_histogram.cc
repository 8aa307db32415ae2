// LatencyHistogram: bucket arithmetic and nearest-rank percentiles.
#include "tools/trellisctl/latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace trellis::tools {

// A value v >= kExact with its highest bit at h keeps its top
// kSubBucketBits bits: v >> shift, shift = h - kSubBucketBits + 1 >= 1,
// lies in [kHalf, kExact). Each shift owns kHalf buckets after the kExact
// exact ones.
size_t LatencyHistogram::BucketOf(uint64_t value) {
  if (value < kExact) return value;
  int shift = std::bit_width(value) - kSubBucketBits;
  uint64_t top = value >> shift;
  return kExact + (shift - 1) * kHalf + (top - kHalf);
}

uint64_t LatencyHistogram::HighestIn(size_t bucket) {
  if (bucket < kExact) return bucket;
  size_t shift = (bucket - kExact) / kHalf + 1;
  uint64_t top = (bucket - kExact) % kHalf + kHalf;
  // The last bucket's end is 2^64 - 1; (top + 1) << shift wraps to 0 there.
  return ((top + 1) << shift) - 1;
}

void LatencyHistogram::Record(uint64_t value) {
  ++counts_[BucketOf(value)];
  ++count_;
  max_ = std::max(max_, value);
}

uint64_t LatencyHistogram::Percentile(double percent) const {
  if (count_ == 0) return 0;
  // percent/100 * count, less a hair so that 99.9% of 1000 (999.0000000001
  // in floating point) is rank 999, not 1000.
  double exact = std::clamp(percent, 0.0, 100.0) / 100 * static_cast<double>(count_);
  auto rank = static_cast<uint64_t>(std::ceil(exact * (1 - 1e-12) - 1e-9));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t bucket = 0; bucket < kBuckets; ++bucket) {
    seen += counts_[bucket];
    if (seen >= rank) return std::min(HighestIn(bucket), max_);
  }
  return max_;
}

}  // namespace trellis::tools
