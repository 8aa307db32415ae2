// status, leases, stats and watch, in-process against a fake Power server.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <sstream>
#include <string>
#include <vector>

#include "tools/powerctl/testing/powerctl_fixture.h"

namespace trellis::powerctl {
namespace {

using testing::FakePowerConfig;
using testing::Outcome;
using testing::PowerctlTest;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

FakePowerConfig WithStatus() {
  FakePowerConfig config;
  config.status.set_state(power::v1::SYSTEM_STATE_RUNNING);
  config.status.set_wake_generation(42);
  config.status.mutable_since()->set_seconds(1714564800);
  auto* lease = config.status.add_leases();
  lease->set_lease_id(3);
  lease->set_name("ota-update");
  lease->set_holder("client");
  lease->set_pid(4242);
  *config.leases.add_leases() = *lease;
  config.stats.set_success(5);
  config.stats.set_aborted_by_wake(1);
  return config;
}

TEST_F(PowerctlTest, StatusPrintsStateGenerationAndLeases) {
  Serve(WithStatus());
  Outcome outcome = Run({"status"});
  EXPECT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_THAT(outcome.out, AllOf(HasSubstr("state:           running"),
                                 HasSubstr("wake generation: 42"), HasSubstr("ota-update"),
                                 HasSubstr("4242")));
  EXPECT_THAT(outcome.err, IsEmpty());
}

TEST_F(PowerctlTest, StatusJsonIsOneDocument) {
  Serve(WithStatus());
  Outcome outcome = Run({"status", "--json"});
  EXPECT_EQ(outcome.exit_code, 0) << outcome.err;
  nlohmann::json json = nlohmann::json::parse(outcome.out);
  EXPECT_EQ(json["state"], "running");
  EXPECT_EQ(json["wake_generation"], 42);
  EXPECT_EQ(json["since"], "2024-05-01T12:00:00Z");
  EXPECT_EQ(json["leases"][0]["name"], "ota-update");
}

TEST_F(PowerctlTest, LeasesPrintsATable) {
  Serve(WithStatus());
  Outcome outcome = Run({"leases"});
  EXPECT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_THAT(outcome.out, StartsWith("ID  NAME        HOLDER  PID   UID  SINCE\n"
                                      "3   ota-update  client  4242  0    -\n"));
  nlohmann::json json = nlohmann::json::parse(Run({"--json", "leases"}).out);
  ASSERT_TRUE(json.is_array());
  EXPECT_EQ(json[0]["id"], 3);
}

TEST_F(PowerctlTest, StatsPrintsCounters) {
  Serve(WithStatus());
  Outcome outcome = Run({"stats"});
  EXPECT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_THAT(outcome.out, AllOf(StartsWith("success:          5\n"),
                                 HasSubstr("aborted_by_wake:  1\n")));
  EXPECT_EQ(nlohmann::json::parse(Run({"stats", "--json"}).out)["success"], 5);
}

TEST_F(PowerctlTest, WatchPrintsEventsUntilTheTimeout) {
  FakePowerConfig config;
  for (auto state : {power::v1::SYSTEM_STATE_RUNNING, power::v1::SYSTEM_STATE_SUSPENDING}) {
    power::v1::PowerEvent& event = config.events.emplace_back();
    event.set_state(state);
    event.mutable_time()->set_seconds(1714564800);
    event.set_detail(state == power::v1::SYSTEM_STATE_SUSPENDING ? "requested by uid 0" : "");
  }
  Serve(std::move(config));
  Outcome text = Run({"watch", "--timeout", "300ms"});
  EXPECT_EQ(text.exit_code, 0) << text.err;
  std::vector<std::string> lines;
  std::istringstream stream(text.out);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 2u) << text.out;
  EXPECT_THAT(lines[0], HasSubstr("running"));
  EXPECT_THAT(lines[1], HasSubstr("suspending  requested by uid 0"));

  Outcome json = Run({"--json", "watch", "--timeout", "300ms"});
  EXPECT_EQ(json.exit_code, 0) << json.err;
  std::istringstream json_lines(json.out);
  std::string line;
  ASSERT_TRUE(std::getline(json_lines, line));
  EXPECT_EQ(nlohmann::json::parse(line)["state"], "running");
  ASSERT_TRUE(std::getline(json_lines, line));
  EXPECT_EQ(nlohmann::json::parse(line)["detail"], "requested by uid 0");
}

}  // namespace
}  // namespace trellis::powerctl
