// suspend --plan and why-not, in-process against a fake Power server.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tools/powerctl/testing/powerctl_fixture.h"

namespace trellis::powerctl {
namespace {

using ::testing::AllOf;
using testing::FakePowerConfig;
using ::testing::HasSubstr;
using testing::Outcome;
using testing::PowerctlTest;

FakePowerConfig WithPlan(bool lease) {
  FakePowerConfig config;
  auto& plan = config.plan;
  plan.set_state(power::v1::SYSTEM_STATE_RUNNING);
  plan.set_wake_generation(4);
  plan.set_waves(2);
  auto* leaf = plan.add_steps();
  leaf->set_node_path("root.sys.disk0.block.p1");
  leaf->set_driver("gpt");
  leaf->set_host("host-2");
  leaf->set_wave(1);
  leaf->mutable_suspend_timeout()->set_seconds(1);
  auto* parent = plan.add_steps();
  parent->set_node_path("root.sys.disk0");
  parent->set_driver("uring-block");
  parent->set_host("host-1");
  parent->set_wave(2);
  parent->add_waits_for("root.sys.disk0.block.p1");
  if (lease) {
    auto* obstacle = plan.add_obstacles();
    obstacle->set_kind(power::v1::SuspendPlan::Obstacle::KIND_LEASE);
    obstacle->set_lease_id(3);
    obstacle->set_detail("wake lease 3 'backup' held by client (pid 42) for 7 s");
  }
  return config;
}

TEST_F(PowerctlTest, PlanPrintsTheWavesAndWhatWouldRefuse) {
  Serve(WithPlan(true));
  Outcome outcome = Run({"suspend", "--plan"});
  EXPECT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_THAT(
      outcome.out,
      AllOf(HasSubstr("2 drivers in 2 waves; system running, wake generation 4"),
            HasSubstr("1     root.sys.disk0.block.p1  gpt"), HasSubstr("root.sys.disk0.block.p1\n"),
            HasSubstr("no past suspend"), HasSubstr("in the way now:\n  wake lease 3 'backup'")));
  EXPECT_TRUE(fake().suspend_requests().empty()) << "--plan does not suspend";
}

TEST_F(PowerctlTest, PlanJsonHasStepsAndObstacles) {
  Serve(WithPlan(true));
  Outcome outcome = Run({"suspend", "--plan", "--json"});
  ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  auto json = nlohmann::json::parse(outcome.out);
  EXPECT_EQ(json["waves"], 2);
  EXPECT_EQ(json["steps"][1]["after"][0], "root.sys.disk0.block.p1");
  EXPECT_EQ(json["steps"][0]["suspend_timeout"], 1.0);
  EXPECT_TRUE(json["expected_suspend"].is_null());
  EXPECT_EQ(json["obstacles"][0]["kind"], "lease");
  EXPECT_EQ(json["obstacles"][0]["lease_id"], 3);
}

TEST_F(PowerctlTest, WhyNotSaysOneLinePerReasonAndExitsOne) {
  Serve(WithPlan(true));
  Outcome outcome = Run({"why-not"});
  EXPECT_EQ(outcome.exit_code, 1);
  EXPECT_EQ(outcome.out, "wake lease 3 'backup' held by client (pid 42) for 7 s\n");
}

TEST_F(PowerctlTest, WhyNotWithNothingInTheWayExitsZero) {
  Serve(WithPlan(false));
  Outcome outcome = Run({"why-not"});
  EXPECT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_EQ(outcome.out, "nothing: a suspend would start now\n");
  outcome = Run({"why-not", "--json"});
  EXPECT_EQ(outcome.out, "[]\n");
}

TEST_F(PowerctlTest, ABlockerDelaysButDoesNotRefuse) {
  FakePowerConfig config = WithPlan(false);
  auto* obstacle = config.plan.add_obstacles();
  obstacle->set_kind(power::v1::SuspendPlan::Obstacle::KIND_BLOCKER);
  obstacle->set_detail("suspend blocker 1 'sync' (pid 7) delays it up to 2000 ms");
  Serve(config);
  Outcome outcome = Run({"why-not"});
  EXPECT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_EQ(outcome.out,
            "nothing: a suspend would start now\n"
            "suspend blocker 1 'sync' (pid 7) delays it up to 2000 ms\n");
}

}  // namespace
}  // namespace trellis::powerctl
