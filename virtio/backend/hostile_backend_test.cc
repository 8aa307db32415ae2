// Hostile mode through trellis-vhost-backend: every Misbehaviour breaks the
// driver's SplitQueue with EIO, and the backend survives to serve the next
// connection; a stalled backend keeps the connection but answers nothing.
#include <gtest/gtest.h>

#include "virtio/backend/hostile_options.h"
#include "virtio/backend/testing/backend_process.h"
#include "virtio/backend/testing/test_driver.h"

namespace trellis::virtio::backend {
namespace {

using namespace std::chrono_literals;
using testing::BackendProcess;
using testing::TestDriver;

// Adds `count` 64-byte rng requests on queue 0 and kicks.
void AddRequests(TestDriver& driver, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    auto buffer = driver.Allocate(64);
    ASSERT_TRUE(buffer) << buffer.error().ToString();
    Buffer in{TestDriver::Address(*buffer), 64};
    ASSERT_TRUE(driver.queue(0).Add({}, std::span(&in, 1), nullptr));
  }
  driver.Kick(0);
}

class HostileBackendTest : public ::testing::TestWithParam<Misbehaviour> {};

TEST_P(HostileBackendTest, DriverQueueBreaksWithEioAndBackendServesTheNext) {
  if (!BackendProcess::Available()) GTEST_SKIP() << BackendProcess::kMissing;
  const std::string kind(MisbehaviourName(GetParam()));
  auto process = BackendProcess::Start({.device = "rng", .args = {"--misbehave", kind}});
  ASSERT_TRUE(process) << process.error().ToString();
  {
    auto driver = TestDriver::Connect({.socket_path = (*process)->socket_path()});
    ASSERT_TRUE(driver) << driver.error().ToString();
    // Two requests in flight, so that a misbehaving duplicate (whose first
    // copy is a valid completion) still leaves one to fail. Index-backwards
    // gets one: a second push would move used->idx forward again before the
    // driver looks, undoing the step back.
    const size_t requests = GetParam() == Misbehaviour::kIndexBackwards ? 1 : 2;
    ASSERT_NO_FATAL_FAILURE(AddRequests(**driver, requests));
    auto done = (*driver)->WaitCompletions(0, requests, 5s);
    ASSERT_EQ(done.size(), requests) << (*process)->Log();
    bool saw_eio = false;
    for (const auto& c : done) {
      if (!c.written) {
        EXPECT_EQ(c.written.error().errno_value(), EIO) << c.written.error().ToString();
        saw_eio = true;
      }
    }
    EXPECT_TRUE(saw_eio);
    EXPECT_TRUE((*driver)->queue(0).broken());
    EXPECT_FALSE((*driver)->queue(0).broken_reason().empty());
    ASSERT_TRUE((*process)->WaitForLog("misbehaving on queue 0 push 1: " + kind, 5s));
  }
  // The backend lives on and serves a new connection (which it also
  // misbehaves on: counters are per connection).
  ASSERT_TRUE((*process)->WaitForLog("connection 1 closed", 5s));
  ASSERT_TRUE((*process)->Running()) << (*process)->Log();
  auto again = TestDriver::Connect({.socket_path = (*process)->socket_path()});
  ASSERT_TRUE(again) << again.error().ToString() << "\n" << (*process)->Log();
  ASSERT_TRUE((*process)->WaitForLog("connection 2 accepted", 5s));
}

INSTANTIATE_TEST_SUITE_P(AllKinds, HostileBackendTest,
                         ::testing::Values(Misbehaviour::kIdOutOfRange, Misbehaviour::kIdNotHead,
                                           Misbehaviour::kDuplicate, Misbehaviour::kLengthTooLarge,
                                           Misbehaviour::kIndexJump, Misbehaviour::kIndexBackwards),
                         [](const auto& info) {
                           std::string name(MisbehaviourName(info.param));
                           std::erase(name, '-');
                           return name;
                         });

TEST(HostileBackendMiscTest, MisbehaveAfterPicksTheNthPush) {
  if (!BackendProcess::Available()) GTEST_SKIP() << BackendProcess::kMissing;
  auto process = BackendProcess::Start(
      {.device = "rng", .args = {"--misbehave", "length-too-large", "--misbehave-after", "3"}});
  ASSERT_TRUE(process) << process.error().ToString();
  auto driver = TestDriver::Connect({.socket_path = (*process)->socket_path()});
  ASSERT_TRUE(driver) << driver.error().ToString();
  for (int i = 0; i < 2; ++i) {
    ASSERT_NO_FATAL_FAILURE(AddRequests(**driver, 1));
    auto done = (*driver)->WaitCompletions(0, 1, 5s);
    ASSERT_EQ(done.size(), 1u);
    ASSERT_TRUE(done[0].written) << "push " << i + 1 << ": " << done[0].written.error().ToString();
  }
  ASSERT_NO_FATAL_FAILURE(AddRequests(**driver, 1));
  auto done = (*driver)->WaitCompletions(0, 1, 5s);
  ASSERT_EQ(done.size(), 1u);
  ASSERT_FALSE(done[0].written);
  EXPECT_EQ(done[0].written.error().errno_value(), EIO);
}

TEST(HostileBackendMiscTest, StallAfterKeepsTheConnectionButAnswersNothing) {
  if (!BackendProcess::Available()) GTEST_SKIP() << BackendProcess::kMissing;
  auto process = BackendProcess::Start({.device = "rng", .args = {"--stall-after", "1"}});
  ASSERT_TRUE(process) << process.error().ToString();
  auto driver = TestDriver::Connect({.socket_path = (*process)->socket_path()});
  ASSERT_TRUE(driver) << driver.error().ToString();
  ASSERT_NO_FATAL_FAILURE(AddRequests(**driver, 1));
  ASSERT_EQ((*driver)->WaitCompletions(0, 1, 5s).size(), 1u);
  ASSERT_TRUE((*process)->WaitForLog("stalling after 1 completions", 5s));
  ASSERT_NO_FATAL_FAILURE(AddRequests(**driver, 1));
  EXPECT_TRUE((*driver)->WaitCompletions(0, 1, 300ms).empty());
  // The control path still answers.
  EXPECT_TRUE((*driver)->frontend().GetFeatures());
}

TEST(HostileBackendMiscTest, PausedBackendAnswersAfterContinue) {
  if (!BackendProcess::Available()) GTEST_SKIP() << BackendProcess::kMissing;
  auto process = BackendProcess::Start({.device = "rng"});
  ASSERT_TRUE(process) << process.error().ToString();
  auto driver = TestDriver::Connect({.socket_path = (*process)->socket_path()});
  ASSERT_TRUE(driver) << driver.error().ToString();
  ASSERT_TRUE((*process)->Pause());
  ASSERT_NO_FATAL_FAILURE(AddRequests(**driver, 1));
  EXPECT_TRUE((*driver)->WaitCompletions(0, 1, 200ms).empty());
  ASSERT_TRUE((*process)->Continue());
  EXPECT_EQ((*driver)->WaitCompletions(0, 1, 5s).size(), 1u);
}

}  // namespace
}  // namespace trellis::virtio::backend
