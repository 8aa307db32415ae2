// Tests of ParseDuration.
#include "tools/client/duration.h"

#include <gtest/gtest.h>

namespace trellis::client {
namespace {

using std::chrono::milliseconds;

TEST(ParseDurationTest, AcceptsUnitsAndFractions) {
  EXPECT_EQ(ParseDuration("5s").value(), milliseconds(5000));
  EXPECT_EQ(ParseDuration("5").value(), milliseconds(5000));
  EXPECT_EQ(ParseDuration("250ms").value(), milliseconds(250));
  EXPECT_EQ(ParseDuration("1.5s").value(), milliseconds(1500));
  EXPECT_EQ(ParseDuration("2m").value(), milliseconds(120000));
  EXPECT_EQ(ParseDuration("1h").value(), milliseconds(3600000));
  EXPECT_EQ(ParseDuration("0").value(), milliseconds(0));
}

TEST(ParseDurationTest, RejectsGarbageNegativeAndHugeValues) {
  for (const char* bad : {"", "s", "-1s", "5x", "5 s", "1.2.3s", "99999h", "ms"}) {
    auto parsed = ParseDuration(bad);
    ASSERT_FALSE(parsed.has_value()) << bad;
    EXPECT_EQ(parsed.error().code(), ErrorCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace trellis::client
