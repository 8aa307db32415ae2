#include "power/suspend_plan.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace trellis::power {
namespace {

using ::testing::ElementsAre;

Target T(std::string path, int parent, std::string host = "h1") {
  return Target{.node_path = std::move(path),
                .driver = "d",
                .host_id = std::move(host),
                .parent = parent,
                .suspend_timeout = std::chrono::milliseconds(250)};
}

std::vector<std::string> Paths(const std::vector<v1::SuspendPlan::Step>& steps) {
  std::vector<std::string> paths;
  for (const auto& step : steps)
    paths.push_back(step.node_path() + "@" + std::to_string(step.wave()));
  return paths;
}

TEST(SuspendPlanTest, LeavesGoFirstAndAParentWaitsForItsDeepestChild) {
  //   a ─┬─ a.b ── a.b.c
  //      └─ a.d
  //   e
  std::vector<Target> targets = {T("a", -1), T("a.b", 0), T("a.b.c", 1, "h2"), T("a.d", 0),
                                 T("e", -1)};
  auto steps = PlanSteps(targets);
  EXPECT_THAT(Paths(steps), ElementsAre("a.b.c@1", "a.d@1", "e@1", "a.b@2", "a@3"));
  EXPECT_THAT(steps.back().waits_for(), ElementsAre("a.b", "a.d"));
  EXPECT_EQ(steps[0].host(), "h2");
  EXPECT_EQ(steps[0].suspend_timeout().nanos(), 250'000'000);
}

TEST(SuspendPlanTest, NoTargetsNoSteps) { EXPECT_TRUE(PlanSteps({}).empty()); }

TEST(SuspendPlanTest, AParentIndexOutOfRangeIsIgnored) {
  auto steps = PlanSteps({T("a", 7)});
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_EQ(steps[0].wave(), 1u);
}

}  // namespace
}  // namespace trellis::power
