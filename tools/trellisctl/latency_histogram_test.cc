// Tests of LatencyHistogram: exact small values, nearest-rank percentiles,
// bounded error for large values.
#include "tools/trellisctl/latency_histogram.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace trellis::tools {
namespace {

TEST(LatencyHistogramTest, EmptyReportsZero) {
  LatencyHistogram histogram;
  EXPECT_EQ(histogram.count(), 0u);
  EXPECT_EQ(histogram.Percentile(50), 0u);
  EXPECT_EQ(histogram.max(), 0u);
}

TEST(LatencyHistogramTest, SmallValuesAreExactByNearestRank) {
  LatencyHistogram histogram;
  for (uint64_t value = 100; value >= 1; --value) histogram.Record(value);
  EXPECT_EQ(histogram.count(), 100u);
  EXPECT_EQ(histogram.Percentile(50), 50u);
  EXPECT_EQ(histogram.Percentile(90), 90u);
  EXPECT_EQ(histogram.Percentile(99), 99u);
  EXPECT_EQ(histogram.Percentile(99.9), 100u);  // Rank ceil(99.9) = 100.
  EXPECT_EQ(histogram.Percentile(100), 100u);
  EXPECT_EQ(histogram.max(), 100u);
}

TEST(LatencyHistogramTest, PercentileOfAThousandIsTheRightRankDespiteRounding) {
  LatencyHistogram histogram;
  for (uint64_t value = 1; value <= 1000; ++value) histogram.Record(value * 1000);
  // Rank 999 of 1000 exactly, although 99.9 / 100 * 1000 is 999.0000000000001.
  EXPECT_NEAR(static_cast<double>(histogram.Percentile(99.9)), 999'000.0, 999'000.0 / 64);
  EXPECT_LT(histogram.Percentile(99.9), histogram.max());
}

TEST(LatencyHistogramTest, LargeValuesAreWithinOneSixtyFourth) {
  LatencyHistogram histogram;
  for (uint64_t value = 1; value <= 10'000; ++value) histogram.Record(value * 997);
  for (double percent : {50.0, 90.0, 99.0, 99.9}) {
    double want = percent / 100 * 10'000 * 997;
    double got = static_cast<double>(histogram.Percentile(percent));
    EXPECT_GE(got, want) << percent;  // The bucket's highest value, never below.
    EXPECT_LE(got, want * (1 + 1.0 / 64)) << percent;
  }
  EXPECT_EQ(histogram.max(), 10'000u * 997);
}

TEST(LatencyHistogramTest, PercentilesNeverExceedTheMax) {
  LatencyHistogram histogram;
  histogram.Record(1'000'001);  // Inside a bucket that reaches past it.
  EXPECT_EQ(histogram.Percentile(50), 1'000'001u);
  EXPECT_EQ(histogram.Percentile(100), 1'000'001u);
}

TEST(LatencyHistogramTest, HoldsTheExtremes) {
  LatencyHistogram histogram;
  histogram.Record(0);
  histogram.Record(UINT64_MAX);
  EXPECT_EQ(histogram.Percentile(50), 0u);
  EXPECT_EQ(histogram.Percentile(100), UINT64_MAX);
}

}  // namespace
}  // namespace trellis::tools
