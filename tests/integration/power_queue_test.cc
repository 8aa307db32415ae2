// powerctl against the real manager for the transitions that wait or
// account: `suspend --when idle` starts exactly when the last lease drops
// (or forces at --not-later-than) and `cancel` cancels it; `lease
// --max-hold` is asked to release, then revoked; the manifest's latency
// targets show in `stats --json`.
#include <gmock/gmock.h>

#include <nlohmann/json.hpp>

#include "tests/integration/testing/powerctl_fixture.h"

namespace trellis::testing {
namespace {

using ::testing::HasSubstr;

// Runs powerctl to its end; its exit code and stdout.
struct Finished {
  int exit_code = -1;
  std::string out, err;
};

class PowerQueueTestBase : public PowerctlFixture {
 protected:
  Finished RunToEnd(std::vector<std::string> args) {
    auto powerctl = StartPowerctl(std::move(args));
    if (!powerctl) return {};
    return Await(*powerctl);
  }
  static Finished Await(PowerctlProcess& powerctl) {
    auto exited = powerctl.WaitForExit(30s);
    EXPECT_TRUE(exited && WIFEXITED(*exited)) << "powerctl " << Describe(exited);
    return {exited && WIFEXITED(*exited) ? WEXITSTATUS(*exited) : -1, powerctl.out(),
            powerctl.err()};
  }
  size_t HeldLeases() { return static_cast<size_t>(Status().leases_size()); }
};

using PowerWhenIdleTest = PowerQueueTestBase;

TEST_F(PowerWhenIdleTest, ASuspendQueuedWhenIdleStartsExactlyWhenTheLastLeaseDrops) {
  StartProbes();
  auto first = std::make_unique<ClientLease>(power(), "first");
  auto second = std::make_unique<ClientLease>(power(), "second");
  ASSERT_TRUE(first->granted() && second->granted());
  grpc::ClientContext watch_context;
  watch_context.set_deadline(std::chrono::system_clock::now() + 60s);
  auto watch = power().Watch(&watch_context, {});
  power::v1::PowerEvent event;
  ASSERT_TRUE(watch->Read(&event));  // The current state.

  auto powerctl = StartPowerctl({"--json", "suspend", "--when", "idle"});
  ASSERT_TRUE(powerctl);
  ASSERT_TRUE(WaitUntil([&] { return Status().has_queued_suspend(); }));
  auto shown = RunToEnd({"--json", "status"});
  auto status = nlohmann::json::parse(shown.out, nullptr, false);
  EXPECT_EQ(status["queued_suspend"]["forces"], true) << shown.out;
  EXPECT_TRUE(status["queued_suspend"]["until"].is_null()) << "no --not-later-than";

  first->Release();
  ASSERT_TRUE(WaitUntil([&] { return HeldLeases() == 1; }));
  EXPECT_TRUE(Status().has_queued_suspend()) << "one lease is still held";
  EXPECT_EQ(Status().state(), power::v1::SYSTEM_STATE_RUNNING);
  EXPECT_FALSE(powerctl->TryWait());

  second->Release();
  // The next transition watchers see is the suspend starting: nothing ran
  // in between.
  ASSERT_TRUE(watch->Read(&event));
  EXPECT_EQ(event.state(), power::v1::SYSTEM_STATE_SUSPENDING) << event.detail();
  ASSERT_TRUE(AwaitPowerState(power::v1::SYSTEM_STATE_SUSPENDED));
  ASSERT_TRUE(Resume().ok());
  auto done = Await(*powerctl);
  EXPECT_EQ(done.exit_code, 0) << done.err;
  auto result = nlohmann::json::parse(done.out, nullptr, false);
  EXPECT_EQ(result.value("outcome", ""), "resumed") << done.out;
  EXPECT_TRUE(result["overridden_leases"].empty());
  watch_context.TryCancel();
}

TEST_F(PowerWhenIdleTest, NotLaterThanGoesAheadOverTheLeasesAndNamesThem) {
  StartProbes();
  ClientLease stuck(power(), "stuck");
  ASSERT_TRUE(stuck.granted());
  auto powerctl =
      StartPowerctl({"--json", "suspend", "--when", "idle", "--not-later-than", "200ms"});
  ASSERT_TRUE(powerctl);
  ASSERT_TRUE(AwaitPowerState(power::v1::SYSTEM_STATE_SUSPENDED));
  ASSERT_TRUE(Resume().ok());
  auto done = Await(*powerctl);
  EXPECT_EQ(done.exit_code, 0) << done.err;
  auto result = nlohmann::json::parse(done.out, nullptr, false);
  ASSERT_EQ(result["overridden_leases"].size(), 1u) << done.out;
  EXPECT_THAT(result["overridden_leases"][0].get<std::string>(), HasSubstr("'stuck' held by client"));
}

TEST_F(PowerWhenIdleTest, CancelEndsTheQueuedSuspend) {
  StartProbes();
  ClientLease hold(power(), "hold");
  ASSERT_TRUE(hold.granted());
  EXPECT_EQ(RunToEnd({"cancel"}).exit_code, 2) << "nothing is queued";
  auto powerctl = StartPowerctl({"suspend", "--when", "idle"});
  ASSERT_TRUE(powerctl);
  ASSERT_TRUE(WaitUntil([&] { return Status().has_queued_suspend(); }));
  auto cancelled = RunToEnd({"cancel"});
  EXPECT_EQ(cancelled.exit_code, 0) << cancelled.err;
  EXPECT_EQ(cancelled.out, "queued suspend cancelled\n");
  auto done = Await(*powerctl);
  EXPECT_EQ(done.exit_code, 2);
  EXPECT_THAT(done.err, HasSubstr("the queued suspend was cancelled by process"));
  EXPECT_FALSE(Status().has_queued_suspend());
  EXPECT_EQ(Status().state(), power::v1::SYSTEM_STATE_RUNNING);
}

TEST_F(PowerWhenIdleTest, ALeaseOverItsBudgetIsAskedToReleaseThenRevoked) {
  StartProbes();
  auto powerctl =
      StartPowerctl({"lease", "--name", "sync", "--max-hold", "400ms", "--", "sleep", "1000"});
  ASSERT_TRUE(powerctl);
  ASSERT_TRUE(AwaitLeaseAndCommand("sync", *powerctl));
  ASSERT_TRUE(WaitUntil([&] { return HeldLeases() == 0; })) << "revoked at its budget";
  ASSERT_TRUE(WaitUntil([&] { return powerctl->err().find("revoked") != std::string::npos; }));
  const std::string err = powerctl->err();
  const auto asked = err.find("over its --max-hold budget: the manager revokes it in 100 ms");
  const auto revoked = err.find("revoked by the manager: held past its budget of 400 ms");
  EXPECT_NE(asked, std::string::npos) << err;
  EXPECT_NE(revoked, std::string::npos) << err;
  EXPECT_LT(asked, revoked) << "asked first";
  EXPECT_FALSE(powerctl->TryWait()) << "the command keeps running";
  auto stats = nlohmann::json::parse(RunToEnd({"--json", "stats"}).out, nullptr, false);
  EXPECT_EQ(stats["revoked_leases"], 1);
  bool listed = false;
  for (const auto& lease : stats["leases"]) {
    if (lease["name"] == "sync") listed = lease["revoked"] == 1;
  }
  EXPECT_TRUE(listed) << stats["leases"].dump();
}

TEST_F(PowerWhenIdleTest, DriversOverTheirLatencyTargetsShowInStatsJson) {
  std::string manifest = ProbeManifest("probe-a", "trellis,probe-a", "a");
  const std::string timeouts = R"("suspend_timeout_ms": 500)";
  manifest.replace(manifest.find(timeouts), timeouts.size(),
                   timeouts + R"(, "suspend_target_ms": 5, "resume_target_ms": 50)");
  StartPowerManager(Board(ProbeNode("a", "trellis,probe-a", 0, 0)), {{"probe-a.json", manifest}});
  ASSERT_TRUE(WaitUntil([&] { return BoundNodes("probe").size() == 1; }));
  ASSERT_TRUE(Command("root.sys.a", kProbeSuspendMode, kModeSlow, 20).has_value());
  for (int cycle = 0; cycle < 2; ++cycle) {
    auto done = RunToEnd({"suspend", "--test", "drivers"});
    ASSERT_EQ(done.exit_code, 0) << done.err;
  }
  auto shown = RunToEnd({"--json", "stats"});
  auto stats = nlohmann::json::parse(shown.out, nullptr, false);
  ASSERT_EQ(stats["drivers"].size(), 1u) << shown.out;
  const auto& driver = stats["drivers"][0];
  EXPECT_EQ(driver["node"], "root.sys.a");
  EXPECT_EQ(driver["suspend"]["count"], 2);
  EXPECT_EQ(driver["suspend"]["target_us"], 5000);
  EXPECT_EQ(driver["suspend"]["over_target"], 2) << "20 ms against a 5 ms target";
  EXPECT_GE(driver["suspend"]["last_us"].get<uint64_t>(), 20'000u);
  EXPECT_EQ(driver["resume"]["target_us"], 50'000);
  auto text = RunToEnd({"stats"});
  EXPECT_THAT(text.out, HasSubstr("over target")) << text.out;
}

}  // namespace
}  // namespace trellis::testing
