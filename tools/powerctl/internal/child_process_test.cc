// Tests of SpawnCommand, TryReap and shell-style exit codes.
#include "tools/powerctl/internal/child_process.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <thread>

namespace trellis::powerctl::internal {
namespace {

// Polls TryReap until the child ends (tests only; powerctl waits in poll()).
int WaitForExit(pid_t pid) {
  for (int i = 0; i < 1000; ++i) {
    auto reaped = TryReap(pid);
    EXPECT_TRUE(reaped.has_value());
    if (!reaped) return -1;
    if (*reaped) return ShellExitCode(**reaped);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ADD_FAILURE() << "child " << pid << " did not exit";
  kill(pid, SIGKILL);
  return -1;
}

TEST(ChildProcessTest, ExitStatusIsPassedThrough) {
  auto pid = SpawnCommand({"sh", "-c", "exit 3"});
  ASSERT_TRUE(pid.has_value()) << pid.error().ToString();
  EXPECT_EQ(WaitForExit(*pid), 3);
}

TEST(ChildProcessTest, DeathBySignalIs128PlusSignal) {
  auto pid = SpawnCommand({"sh", "-c", "kill -TERM $$"});
  ASSERT_TRUE(pid.has_value()) << pid.error().ToString();
  EXPECT_EQ(WaitForExit(*pid), 128 + SIGTERM);
}

TEST(ChildProcessTest, TryReapDoesNotBlockWhileTheChildRuns) {
  auto pid = SpawnCommand({"sleep", "10"});
  ASSERT_TRUE(pid.has_value()) << pid.error().ToString();
  auto reaped = TryReap(*pid);
  ASSERT_TRUE(reaped.has_value());
  EXPECT_FALSE(reaped->has_value());
  kill(*pid, SIGKILL);
  EXPECT_EQ(WaitForExit(*pid), 128 + SIGKILL);
}

TEST(ChildProcessTest, MissingCommandIsNotFoundAndExit127) {
  auto pid = SpawnCommand({"powerctl-test-no-such-command"});
  ASSERT_FALSE(pid.has_value());
  EXPECT_EQ(pid.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(SpawnFailureExitCode(pid.error()), 127);
  EXPECT_EQ(SpawnFailureExitCode(Error(ErrorCode::kPermissionDenied, "x")), 126);
}

TEST(ChildProcessTest, EmptyCommandIsRejected) {
  auto pid = SpawnCommand({});
  ASSERT_FALSE(pid.has_value());
  EXPECT_EQ(pid.error().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace trellis::powerctl::internal
