// powerctl lease, in-process against a fake Power server: the command runs
// with the lease held, its exit status comes back, lost leases warn, and
// signals reach the command.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

#include "tools/powerctl/testing/powerctl_fixture.h"

namespace trellis::powerctl {
namespace {

using namespace std::chrono_literals;
using testing::Eventually;
using testing::FakePowerConfig;
using testing::Outcome;
using testing::PowerctlTest;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

TEST_F(PowerctlTest, LeaseRunsTheCommandWithTheLeaseHeld) {
  Serve();
  auto before = std::chrono::steady_clock::now();
  Outcome outcome = Run({"lease", "--name", "ota-update", "sh", "-c", "sleep 0.3; exit 3"});
  EXPECT_EQ(outcome.exit_code, 3) << outcome.err;
  EXPECT_THAT(outcome.out, IsEmpty());
  EXPECT_THAT(outcome.err, IsEmpty());
  ASSERT_TRUE(Eventually([&] {
    auto leases = fake().leases();
    return leases.size() == 1 && leases[0].released.has_value();
  }));
  auto lease = fake().leases().at(0);
  EXPECT_EQ(lease.name, "ota-update");
  EXPECT_GE(lease.granted, before);
  EXPECT_GE(*lease.released - lease.granted, 300ms);
}

TEST_F(PowerctlTest, LeaseCommandKilledBySignalExits128PlusSignal) {
  Serve();
  Outcome outcome = Run({"lease", "--name", "x", "--", "sh", "-c", "kill -TERM $$"});
  EXPECT_EQ(outcome.exit_code, 128 + SIGTERM) << outcome.err;
}

TEST_F(PowerctlTest, LeaseCommandArgumentsArePassedVerbatim) {
  Serve();
  std::string path = TempPath("args");
  Outcome outcome = Run({"lease", "--name", "x", "sh", "-c", "printf '%s|' \"$@\" > " + path, "sh",
                         "--json", "-l", "--name", "y", "--"});
  EXPECT_EQ(outcome.exit_code, 0) << outcome.err;
  std::ifstream file(path);
  std::string args((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  EXPECT_EQ(args, "--json|-l|--name|y|--|");
}

TEST_F(PowerctlTest, GlobalOptionsAfterLeaseAreStillPowerctls) {
  Serve();
  Outcome outcome = Run({"lease", "--timeout", "5s", "--json", "--name", "x", "sh", "-c", "exit 4"});
  EXPECT_EQ(outcome.exit_code, 4) << outcome.err;
  EXPECT_EQ(fake().leases().at(0).name, "x");
}

TEST_F(PowerctlTest, LeaseMissingCommandExits127) {
  Serve();
  Outcome outcome = Run({"lease", "--name", "x", "powerctl-test-no-such-command"});
  EXPECT_EQ(outcome.exit_code, 127);
  EXPECT_THAT(outcome.err, HasSubstr("cannot run powerctl-test-no-such-command"));
  ASSERT_TRUE(Eventually([&] {
    auto leases = fake().leases();
    return leases.size() == 1 && leases[0].released.has_value();
  }));
}

TEST_F(PowerctlTest, LeaseStreamEndingBeforeTheGrantExitsTwo) {
  FakePowerConfig config;
  config.lease_mode = FakePowerConfig::LeaseMode::kEndBeforeGrant;
  Serve(std::move(config));
  std::string path = TempPath("ran");
  Outcome outcome = Run({"lease", "--name", "x", "touch", path});
  EXPECT_EQ(outcome.exit_code, 2);
  EXPECT_EQ(outcome.err, "powerctl: Power.AcquireWakeLease: too many leases\n");
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST_F(PowerctlTest, LeaseNotGrantedWithinTheTimeoutExitsTwo) {
  FakePowerConfig config;
  config.lease_mode = FakePowerConfig::LeaseMode::kNeverGrant;
  Serve(std::move(config));
  Outcome outcome = Run({"--timeout", "200ms", "lease", "--name", "x", "true"});
  EXPECT_EQ(outcome.exit_code, 2);
  EXPECT_EQ(outcome.err, "powerctl: Power.AcquireWakeLease: no lease granted within 200ms\n");
}

TEST_F(PowerctlTest, RevokedLeaseWarnsButWaitsForTheCommand) {
  FakePowerConfig config;
  config.lease_mode = FakePowerConfig::LeaseMode::kGrantThenRevoke;
  config.revoke_after = 50ms;
  Serve(std::move(config));
  Outcome outcome = Run({"lease", "--name", "ota", "sh", "-c", "sleep 0.4; exit 5"});
  EXPECT_EQ(outcome.exit_code, 5);
  EXPECT_EQ(outcome.err,
            "powerctl: warning: wake lease 7 (ota) revoked by the manager: manager shutting "
            "down; the command keeps running without it\n");
}

TEST_F(PowerctlTest, LeaseLostWithTheManagerWarnsButWaitsForTheCommand) {
  Serve();
  std::thread stop([&] {
    ASSERT_TRUE(Eventually([&] { return !fake().leases().empty(); }));
    server_.reset();
  });
  Outcome outcome = Run({"lease", "--name", "ota", "sh", "-c", "sleep 1; exit 4"});
  stop.join();
  EXPECT_EQ(outcome.exit_code, 4);
  EXPECT_THAT(outcome.err, AllOf(StartsWith("powerctl: warning: wake lease 7 (ota) lost: "),
                                 HasSubstr("the command keeps running without it")));
}

TEST_F(PowerctlTest, TermSentToPowerctlIsPassedToTheCommand) {
  Serve();
  std::string started = TempPath("started");
  pthread_t self = pthread_self();
  std::thread killer([&] {
    ASSERT_TRUE(Eventually([&] { return std::filesystem::exists(started); }));
    pthread_kill(self, SIGTERM);
  });
  auto before = std::chrono::steady_clock::now();
  Outcome outcome = Run({"lease", "--name", "x", "sh", "-c", "touch " + started + "; exec sleep 20"});
  killer.join();
  EXPECT_EQ(outcome.exit_code, 128 + SIGTERM) << outcome.err;
  EXPECT_LT(std::chrono::steady_clock::now() - before, 10s);
}

}  // namespace
}  // namespace trellis::powerctl
