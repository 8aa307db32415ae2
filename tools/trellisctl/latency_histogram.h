// LatencyHistogram: request latencies in constant memory, with percentiles
// within 1/64 (1.6%) of the true value, for `trellisctl block bench`.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace trellis::tools {

// Log-linear buckets (as HdrHistogram): values below 128 are kept exactly;
// above, each power of two is split into 64 buckets, so a bucket is at
// most 1/64 of its values wide. Thread-compatible.
class LatencyHistogram {
 public:
  // Adds one sample (in any unit; the bench uses nanoseconds).
  void Record(uint64_t value);

  uint64_t count() const { return count_; }
  // The largest sample, exactly; 0 if none.
  uint64_t max() const { return max_; }

  // The `percent` percentile (0 < percent <= 100) by nearest rank: the
  // bucket holding the ceil(percent/100 * count)-th smallest sample,
  // reported as the largest value that bucket holds but never above max().
  // 0 if there are no samples.
  uint64_t Percentile(double percent) const;

 private:
  static constexpr int kSubBucketBits = 7;  // 128 exact values.
  static constexpr uint64_t kExact = uint64_t{1} << kSubBucketBits;
  static constexpr uint64_t kHalf = kExact / 2;  // Buckets per power of two.
  static constexpr size_t kBuckets = kExact + (64 - kSubBucketBits) * kHalf;

  static size_t BucketOf(uint64_t value);
  static uint64_t HighestIn(size_t bucket);

  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
  uint64_t max_ = 0;
};

}  // namespace trellis::tools
