// Suspend blockers through real gRPC clients against the real manager and
// hosts: one that acknowledges is waited for, one that stalls is skipped at
// its deadline (and the skip is reported and logged), one that takes a wake
// lease aborts the suspend; each hears AfterResume.
#include <gmock/gmock.h>

#include "tests/integration/testing/power_fixture.h"

namespace trellis::testing {
namespace {

using namespace std::chrono_literals;
using power::v1::SuspendBlockerEvent;
using power::v1::SuspendResponse;

// A registered blocker: its stream, read in order.
class Blocker {
 public:
  Blocker(power::v1::Power::Stub& power, const std::string& name,
          std::chrono::milliseconds deadline = 0ms) {
    context_.set_deadline(std::chrono::system_clock::now() + 60s);
    power::v1::RegisterSuspendBlockerRequest request;
    request.set_name(name);
    request.mutable_deadline()->set_nanos(static_cast<int32_t>(deadline.count() * 1'000'000));
    reader_ = power.RegisterSuspendBlocker(&context_, request);
    auto registered = Next();
    EXPECT_EQ(registered.kind(), SuspendBlockerEvent::KIND_REGISTERED);
    id_ = registered.blocker_id();
  }
  ~Blocker() { context_.TryCancel(); }

  uint64_t id() const { return id_; }
  SuspendBlockerEvent Next() {
    SuspendBlockerEvent event;
    EXPECT_TRUE(reader_->Read(&event));
    return event;
  }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<SuspendBlockerEvent>> reader_;
  uint64_t id_ = 0;
};

class PowerBlockerTest : public PowerFixture {
 protected:
  void SetUp() override {
    StartPowerManager(Board(ProbeNode("p", "trellis,probe-a", 1, 2, LogProperty())),
                      {{"probe-a.json", ProbeManifest("probe-a", "trellis,probe-a", "a")}});
    ASSERT_TRUE(WaitUntil([&] { return BoundNodes("probe").size() == 3; }));
  }

  grpc::Status Ack(uint64_t id, uint64_t seq) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 10s);
    power::v1::AckSuspendBlockerRequest request;
    request.set_blocker_id(id);
    request.set_seq(seq);
    power::v1::AckSuspendBlockerResponse response;
    return power().AckSuspendBlocker(&context, request, &response);
  }

  size_t SuspendedDrivers() {
    size_t n = 0;
    for (const auto& line : ReadLines(log())) n += line.starts_with("suspend ") ? 1 : 0;
    return n;
  }
};

TEST_F(PowerBlockerTest, ASuspendWaitsForTheBlockersAcknowledgement) {
  Blocker blocker(power(), "sync");
  auto suspended = SuspendAsync();
  SuspendBlockerEvent before = blocker.Next();
  ASSERT_EQ(before.kind(), SuspendBlockerEvent::KIND_BEFORE_SUSPEND);
  EXPECT_EQ(Status().state(), power::v1::SYSTEM_STATE_SUSPENDING);
  EXPECT_EQ(SuspendedDrivers(), 0u) << "no driver suspends before the acknowledgement";
  EXPECT_EQ(Ack(blocker.id(), before.seq() + 1).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  ASSERT_TRUE(Ack(blocker.id(), before.seq()).ok());
  ASSERT_TRUE(AwaitPowerState(power::v1::SYSTEM_STATE_SUSPENDED));
  EXPECT_EQ(SuspendedDrivers(), 3u);
  ASSERT_TRUE(Resume().ok());
  auto [status, response] = suspended.get();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.outcome(), SuspendResponse::OUTCOME_RESUMED);
  EXPECT_TRUE(response.missed_blockers().empty());
  SuspendBlockerEvent after = blocker.Next();
  EXPECT_EQ(after.kind(), SuspendBlockerEvent::KIND_AFTER_RESUME);
  EXPECT_EQ(after.seq(), before.seq());
}

TEST_F(PowerBlockerTest, ABlockerThatStallsIsSkippedAtItsDeadlineAndTheSkipIsLogged) {
  grpc::ClientContext watch_context;
  watch_context.set_deadline(std::chrono::system_clock::now() + 60s);
  auto watch = power().Watch(&watch_context, {});
  Blocker blocker(power(), "stalls", 100ms);
  auto suspended = SuspendAsync();
  ASSERT_EQ(blocker.Next().kind(), SuspendBlockerEvent::KIND_BEFORE_SUSPEND);
  // Never acknowledged: the suspend goes on without it.
  ASSERT_TRUE(AwaitPowerState(power::v1::SYSTEM_STATE_SUSPENDED));
  ASSERT_TRUE(Resume().ok());
  auto [status, response] = suspended.get();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.outcome(), SuspendResponse::OUTCOME_RESUMED);
  EXPECT_THAT(response.missed_blockers(), ::testing::ElementsAre("stalls"));
  EXPECT_EQ(blocker.Next().kind(), SuspendBlockerEvent::KIND_AFTER_RESUME);
  // Watchers saw why it went on.
  bool logged = false;
  power::v1::PowerEvent event;
  while (!logged && watch->Read(&event)) {
    logged = event.detail().find("'stalls' missed its deadline") != std::string::npos;
  }
  EXPECT_TRUE(logged);
  watch_context.TryCancel();
}

TEST_F(PowerBlockerTest, ABlockerThatTakesALeaseAbortsTheSuspend) {
  Blocker blocker(power(), "upload");
  auto suspended = SuspendAsync();
  ASSERT_EQ(blocker.Next().kind(), SuspendBlockerEvent::KIND_BEFORE_SUSPEND);
  ClientLease lease(power(), "upload");  // Instead of acknowledging.
  ASSERT_TRUE(lease.granted());
  auto [status, response] = suspended.get();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.outcome(), SuspendResponse::OUTCOME_ABORTED_BY_LEASE);
  EXPECT_EQ(SuspendedDrivers(), 0u);
  EXPECT_EQ(blocker.Next().kind(), SuspendBlockerEvent::KIND_AFTER_RESUME);
  EXPECT_EQ(Status().state(), power::v1::SYSTEM_STATE_RUNNING);
}

TEST_F(PowerBlockerTest, BadBlockersAreRefused) {
  grpc::ClientContext context;
  power::v1::RegisterSuspendBlockerRequest request;  // No name.
  auto reader = power().RegisterSuspendBlocker(&context, request);
  SuspendBlockerEvent event;
  EXPECT_FALSE(reader->Read(&event));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Ack(12345, 1).error_code(), grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace trellis::testing
