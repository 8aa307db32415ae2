// DriverLatencies: buckets, targets and the regression flag.
#include "power/driver_latency.h"

#include <gtest/gtest.h>

namespace trellis::power {
namespace {

using namespace std::chrono_literals;
using Phase = DriverLatencies::Phase;

v1::LatencyHistogram SuspendOf(const DriverLatencies& latencies, int index = 0) {
  v1::SuspendStats stats;
  latencies.Fill(stats);
  return stats.drivers(index).suspend();
}

TEST(DriverLatencyTest, CallbacksFallIntoLog2BucketsAndCountAgainstTheTarget) {
  DriverLatencies latencies;
  for (auto took : {0us, 1us, 3us, 1500us, 2500us}) {
    latencies.Record("root.a", "drv", Phase::kSuspend, took, 2ms);
  }
  latencies.Record("root.a", "drv", Phase::kResume, 7us, 0ms);
  auto h = SuspendOf(latencies);
  EXPECT_EQ(h.count(), 5u);
  ASSERT_EQ(h.buckets_size(), static_cast<int>(DriverLatencies::kBuckets));
  EXPECT_EQ(h.buckets(0), 2u);   // 0 and 1 µs.
  EXPECT_EQ(h.buckets(1), 1u);   // 3 µs.
  EXPECT_EQ(h.buckets(10), 1u);  // 1500 µs: [1024, 2048).
  EXPECT_EQ(h.buckets(11), 1u);  // 2500 µs.
  EXPECT_EQ(h.target_us(), 2000u);
  EXPECT_EQ(h.over_target(), 1u);
  EXPECT_EQ(h.max_us(), 2500u);
  v1::SuspendStats stats;
  latencies.Fill(stats);
  EXPECT_EQ(stats.drivers(0).resume().count(), 1u);
  EXPECT_EQ(stats.drivers(0).resume().target_us(), 0u);
}

TEST(DriverLatencyTest, ACallbackTwiceTheUsualMedianIsARegression) {
  DriverLatencies latencies;
  for (int i = 0; i < 4; ++i) latencies.Record("root.a", "drv", Phase::kSuspend, 2ms, 0ms);
  latencies.Record("root.a", "drv", Phase::kSuspend, 3ms, 0ms);
  EXPECT_FALSE(SuspendOf(latencies).regressed()) << "1.5x the median";
  latencies.Record("root.a", "drv", Phase::kSuspend, 5ms, 0ms);
  auto h = SuspendOf(latencies);
  EXPECT_EQ(h.median_us(), 2000u);
  EXPECT_TRUE(h.regressed());
  // Under the noise floor, doubling is not a regression.
  DriverLatencies fast;
  for (int i = 0; i < 4; ++i) fast.Record("root.b", "drv", Phase::kSuspend, 100us, 0ms);
  fast.Record("root.b", "drv", Phase::kSuspend, 900us, 0ms);
  EXPECT_FALSE(SuspendOf(fast).regressed());
}

TEST(DriverLatencyTest, DriversAreListedInTheOrderFirstSeen) {
  DriverLatencies latencies;
  latencies.Record("root.b", "b", Phase::kSuspend, 1us, 0ms);
  latencies.Record("root.a", "a", Phase::kSuspend, 1us, 0ms);
  latencies.Record("root.b", "b", Phase::kSuspend, 1us, 0ms);
  v1::SuspendStats stats;
  latencies.Fill(stats);
  ASSERT_EQ(stats.drivers_size(), 2);
  EXPECT_EQ(stats.drivers(0).node_path(), "root.b");
  EXPECT_EQ(stats.drivers(0).suspend().count(), 2u);
  EXPECT_EQ(stats.drivers(1).driver(), "a");
}

}  // namespace
}  // namespace trellis::power
