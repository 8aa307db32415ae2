// Tests of SignalRelay.
#include "tools/powerctl/internal/signal_relay.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>

namespace trellis::powerctl::internal {
namespace {

sighandler_t CurrentHandler(int signo) {
  struct sigaction action {};
  sigaction(signo, nullptr, &action);
  return action.sa_handler;
}

TEST(SignalRelayTest, RelaysSignalsFromProcessesAsRecords) {
  auto relay = SignalRelay::Install();
  ASSERT_TRUE(relay.has_value()) << relay.error().ToString();
  EXPECT_FALSE((*relay)->TryTake().has_value());
  // raise() runs the handler on this thread before it returns.
  ASSERT_EQ(pthread_kill(pthread_self(), SIGTERM), 0);
  ASSERT_EQ(raise(SIGINT), 0);
  pollfd fd{.fd = (*relay)->fd(), .events = POLLIN, .revents = 0};
  ASSERT_EQ(poll(&fd, 1, 1000), 1);
  auto first = (*relay)->TryTake();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->signo, SIGTERM);
  EXPECT_FALSE(first->from_kernel);
  auto second = (*relay)->TryTake();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->signo, SIGINT);
  EXPECT_FALSE((*relay)->TryTake().has_value());
}

TEST(SignalRelayTest, RestoresThePreviousActionsWhenDropped) {
  ASSERT_EQ(CurrentHandler(SIGTERM), SIG_DFL);
  {
    auto relay = SignalRelay::Install();
    ASSERT_TRUE(relay.has_value()) << relay.error().ToString();
    EXPECT_NE(CurrentHandler(SIGTERM), SIG_DFL);
  }
  EXPECT_EQ(CurrentHandler(SIGTERM), SIG_DFL);
}

TEST(SignalRelayTest, IgnoredSignalsStayIgnored) {
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction previous {};
  ASSERT_EQ(sigaction(SIGHUP, &ignore, &previous), 0);
  {
    auto relay = SignalRelay::Install();
    ASSERT_TRUE(relay.has_value()) << relay.error().ToString();
    EXPECT_EQ(CurrentHandler(SIGHUP), SIG_IGN);
  }
  EXPECT_EQ(CurrentHandler(SIGHUP), SIG_IGN);
  sigaction(SIGHUP, &previous, nullptr);
}

TEST(SignalRelayTest, OnlyOneRelayAtATime) {
  auto first = SignalRelay::Install();
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  auto second = SignalRelay::Install();
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code(), ErrorCode::kFailedPrecondition);
}

TEST(SignalRelayTest, RecordsLeftByAnEarlierRelayAreDropped) {
  {
    auto relay = SignalRelay::Install();
    ASSERT_TRUE(relay.has_value()) << relay.error().ToString();
    ASSERT_EQ(raise(SIGINT), 0);
  }
  auto relay = SignalRelay::Install();
  ASSERT_TRUE(relay.has_value()) << relay.error().ToString();
  EXPECT_FALSE((*relay)->TryTake().has_value());
}

}  // namespace
}  // namespace trellis::powerctl::internal
