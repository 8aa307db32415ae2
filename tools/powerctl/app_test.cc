// Tests of powerctl's command line: help, usage errors, and what happens
// when no manager listens.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "tools/powerctl/testing/powerctl_fixture.h"

namespace trellis::powerctl {
namespace {

using testing::Outcome;
using testing::PowerctlTest;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST_F(PowerctlTest, HelpExitsZeroForEveryCommand) {
  for (const char* command : {"status", "suspend", "resume", "lease", "leases", "watch", "stats"}) {
    Outcome outcome = RunRaw({command, "--help"});
    EXPECT_EQ(outcome.exit_code, 0) << command;
    EXPECT_THAT(outcome.out, HasSubstr("Usage: powerctl " + std::string(command))) << command;
  }
  EXPECT_THAT(RunRaw({"--help"}).out, AllOf(HasSubstr("--endpoint"), HasSubstr("--timeout")));
}

TEST_F(PowerctlTest, BadFlagsAreUsageErrorsNamingTheFlag) {
  Outcome unknown = RunRaw({"suspend", "--wake-afterr", "5s"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.err, HasSubstr("--wake-afterr"));

  Outcome bad_duration = RunRaw({"suspend", "--wait", "5 parsecs"});
  EXPECT_EQ(bad_duration.exit_code, 2);
  EXPECT_THAT(bad_duration.err, AllOf(HasSubstr("--wait"), HasSubstr("bad duration")));

  Outcome bad_timeout = RunRaw({"--timeout", "soon", "status"});
  EXPECT_EQ(bad_timeout.exit_code, 2);
  EXPECT_THAT(bad_timeout.err, HasSubstr("--timeout"));

  Outcome bad_generation = RunRaw({"suspend", "--expected-generation", "x"});
  EXPECT_EQ(bad_generation.exit_code, 2);
  EXPECT_THAT(bad_generation.err, HasSubstr("--expected-generation"));

  Outcome no_command = RunRaw({});
  EXPECT_EQ(no_command.exit_code, 2);
}

TEST_F(PowerctlTest, LeaseNeedsANameAndACommand) {
  Outcome no_name = RunRaw({"lease", "true"});
  EXPECT_EQ(no_name.exit_code, 2);
  EXPECT_THAT(no_name.err, HasSubstr("--name"));
  Outcome no_command = RunRaw({"lease", "--name", "x"});
  EXPECT_EQ(no_command.exit_code, 2);
  EXPECT_THAT(no_command.err, HasSubstr("CMD"));
}

TEST_F(PowerctlTest, MissingManagerIsAnErrorSayingWhere) {
  Outcome outcome = Run({"status"});
  EXPECT_EQ(outcome.exit_code, 2);
  EXPECT_THAT(outcome.err, AllOf(StartsWith("powerctl: cannot reach trellis-manager at "
                                            "unix:/nonexistent"),
                                 HasSubstr("is it running?")));
}

}  // namespace
}  // namespace trellis::powerctl
