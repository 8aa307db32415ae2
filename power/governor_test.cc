// The governor's state machine against a scripted platform (the real
// manager and hosts are exercised in tests/integration/power_test.cc).
#include "power/governor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <map>

#include "runtime/runtime.h"
#include "runtime/testing/run_on.h"

namespace trellis::power {
namespace {

using v1::SuspendResponse;

// Drivers answer from a script; every completion is a later dispatcher task,
// as the Platform contract requires.
class ScriptedPlatform final : public Platform {
 public:
  explicit ScriptedPlatform(UnownedDispatcher dispatcher) : dispatcher_(std::move(dispatcher)) {}

  std::vector<Target> targets;
  std::map<std::string, Result<uint64_t>> suspend_result;  // Default: Ok(1).
  std::vector<std::string> calls;                          // "suspend x", "resume x [lease]"
  std::map<std::string, int> resumes;
  std::vector<v1::SystemState> states;
  std::function<void(const std::string&)> on_suspend;  // Runs before the answer.

  std::vector<Target> PowerTargets() override { return targets; }
  void SuspendDriver(const Target& target, CallDone done) override {
    calls.push_back("suspend " + target.node_path);
    if (on_suspend) on_suspend(target.node_path);
    auto it = suspend_result.find(target.node_path);
    Result<uint64_t> result = it == suspend_result.end() ? Result<uint64_t>(1) : it->second;
    (void)dispatcher_.Post([done = std::move(done), result]() mutable { done(result); });
  }
  void ResumeDriver(const Target& target, std::optional<LeaseGrant> lease,
                    CallDone done) override {
    calls.push_back("resume " + target.node_path + (lease ? " lease" : ""));
    ++resumes[target.node_path];
    (void)dispatcher_.Post([done = std::move(done)]() mutable { done(uint64_t{1}); });
  }
  void ArmWakeAlarm(std::chrono::milliseconds,
                    std::move_only_function<void(Result<void>)> done) override {
    calls.push_back("alarm");
    (void)dispatcher_.Post([done = std::move(done)]() mutable { done(Ok()); });
  }
  void PowerEvent(const v1::PowerEvent& event) override { states.push_back(event.state()); }

 private:
  UnownedDispatcher dispatcher_;
};

using testing::RunOn;

class GovernorTest : public ::testing::Test {
 protected:
  GovernorTest()
      : runtime_(Runtime::Create({.threads = 2}).value()),
        dispatcher_(Dispatcher::Create(*runtime_, {.name = "governor"})),
        platform_(dispatcher_.borrow()) {
    RunOn(dispatcher_.borrow(), [&] {
      governor_ = std::make_unique<Governor>(dispatcher_.borrow(), &platform_, MakeSimulatedHal());
    });
    // root.a ─┬─ root.a.b
    //         └─ root.a.c        root.d (independent)
    platform_.targets = {{"root.a", "drv", "h1", -1},
                         {"root.a.b", "drv", "h1", 0},
                         {"root.a.c", "drv", "h2", 0},
                         {"root.d", "drv", "h2", -1}};
  }
  ~GovernorTest() override {
    RunOn(dispatcher_.borrow(), [&] { governor_.reset(); });
  }

  template <typename Fn>
  auto Run(Fn fn) {
    return RunOn(dispatcher_.borrow(), std::move(fn));
  }

  // Starts a suspend; the returned future holds its answer.
  std::future<Result<SuspendResponse>> StartSuspend(v1::SuspendRequest request = {}) {
    auto promise = std::make_shared<std::promise<Result<SuspendResponse>>>();
    auto future = promise->get_future();
    Run([&] {
      governor_->Suspend(request, [promise](Result<SuspendResponse> r) {
        promise->set_value(std::move(r));
      });
    });
    return future;
  }

  // Waits (by polling the dispatcher, no sleeps) until the state is reached.
  void AwaitState(v1::SystemState state) {
    for (int i = 0; i < 1'000'000; ++i) {
      if (Run([&] { return governor_->state(); }) == state) return;
      std::this_thread::yield();
    }
    FAIL() << "state " << v1::SystemState_Name(state) << " never reached";
  }

  size_t IndexOf(const std::string& call) const {
    auto it = std::find(platform_.calls.begin(), platform_.calls.end(), call);
    EXPECT_NE(it, platform_.calls.end()) << call;
    return static_cast<size_t>(it - platform_.calls.begin());
  }

  std::unique_ptr<Runtime> runtime_;
  Dispatcher dispatcher_;
  ScriptedPlatform platform_;
  std::unique_ptr<Governor> governor_;
};

TEST_F(GovernorTest, SuspendsChildrenFirstAndResumesParentsFirst) {
  auto done = StartSuspend();
  AwaitState(v1::SYSTEM_STATE_SUSPENDED);
  Run([&] { governor_->Resume("test"); });
  auto response = done.get();
  ASSERT_TRUE(response.has_value()) << response.error().ToString();
  EXPECT_EQ(response->outcome(), SuspendResponse::OUTCOME_RESUMED);
  EXPECT_EQ(response->wake_reason(), "test");
  Run([&] {
    EXPECT_LT(IndexOf("suspend root.a.b"), IndexOf("suspend root.a"));
    EXPECT_LT(IndexOf("suspend root.a.c"), IndexOf("suspend root.a"));
    EXPECT_LT(IndexOf("resume root.a"), IndexOf("resume root.a.b"));
    EXPECT_LT(IndexOf("resume root.a"), IndexOf("resume root.a.c"));
    for (const auto& t : platform_.targets) EXPECT_EQ(platform_.resumes[t.node_path], 1);
    EXPECT_EQ(governor_->state(), v1::SYSTEM_STATE_RUNNING);
    EXPECT_EQ(governor_->Stats().success(), 1u);
  });
}

TEST_F(GovernorTest, FailureResumesEverySuspendedDriverOnce) {
  platform_.suspend_result.emplace("root.a", Fail(ErrorCode::kInternal, "injected"));
  auto response = StartSuspend().get();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->outcome(), SuspendResponse::OUTCOME_FAILED_SUSPEND);
  EXPECT_EQ(response->failed_driver(), "drv");
  EXPECT_NE(response->error().find("root.a failed to suspend: "), std::string::npos)
      << response->error();
  Run([&] {
    EXPECT_EQ(platform_.resumes["root.a"], 0);  // It never suspended.
    EXPECT_EQ(platform_.resumes["root.a.b"], 1);
    EXPECT_EQ(platform_.resumes["root.a.c"], 1);
    EXPECT_EQ(platform_.resumes["root.d"], 1);
    EXPECT_EQ(governor_->state(), v1::SYSTEM_STATE_RUNNING);
    EXPECT_EQ(governor_->Stats().failed_suspend(), 1u);
    EXPECT_EQ(governor_->Stats().last_failed_driver(), "drv");
  });
}

TEST_F(GovernorTest, HeldLeaseRefusesAndNamesTheHolder) {
  uint64_t id = Run([&] { return governor_->AcquireLease({"ota", "client", 42, 0}).value(); });
  auto refused = StartSuspend().get();
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(refused.error().message().find("'ota' (client, pid 42"), std::string::npos)
      << refused.error().message();

  v1::SuspendRequest request;
  request.mutable_wait()->set_seconds(60);
  auto waiting = StartSuspend(request);
  Run([&] { EXPECT_EQ(governor_->state(), v1::SYSTEM_STATE_RUNNING); });
  Run([&] { EXPECT_TRUE(governor_->ReleaseLease(id)); });
  AwaitState(v1::SYSTEM_STATE_SUSPENDED);
  Run([&] { governor_->Resume(""); });
  EXPECT_EQ(waiting.get()->outcome(), SuspendResponse::OUTCOME_RESUMED);
}

TEST_F(GovernorTest, WaitGivesUpWithDeadlineExceeded) {
  Run([&] { governor_->AcquireLease({"hold", "root.x", 7, 0}); });
  v1::SuspendRequest request;
  request.mutable_wait()->set_nanos(1'000'000);  // 1 ms.
  auto response = StartSuspend(request).get();
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code(), ErrorCode::kDeadlineExceeded);
  EXPECT_NE(response.error().message().find("'hold' (root.x"), std::string::npos);
}

TEST_F(GovernorTest, LeaseDuringSuspendAborts) {
  platform_.on_suspend = [&](const std::string& path) {
    if (path == "root.a.c") governor_->AcquireLease({"late", "client", 1, 0});
  };
  auto response = StartSuspend().get();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->outcome(), SuspendResponse::OUTCOME_ABORTED_BY_LEASE);
  Run([&] {
    for (const auto& call : platform_.calls) EXPECT_NE(call, "suspend root.a");
    EXPECT_EQ(governor_->Stats().aborted_by_lease(), 1u);
  });
}

TEST_F(GovernorTest, WakeWhileSuspendedGivesTheWakingDriverALease) {
  auto done = StartSuspend();
  AwaitState(v1::SYSTEM_STATE_SUSPENDED);
  uint64_t generation = Run([&] { return governor_->wake_generation(); });
  Run([&] { governor_->ReportWake("irq 5", "root.a.b", "drv"); });
  auto response = done.get();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->outcome(), SuspendResponse::OUTCOME_RESUMED);
  EXPECT_EQ(response->wake_node_path(), "root.a.b");
  EXPECT_EQ(response->wake_generation(), generation + 1);
  Run([&] {
    IndexOf("resume root.a.b lease");
    IndexOf("resume root.a.c");
    ASSERT_EQ(governor_->Leases().leases_size(), 1);
    EXPECT_EQ(governor_->Leases().leases(0).holder(), "root.a.b");
  });
}

TEST_F(GovernorTest, WakeLatencyRunsFromTheReportedEventTime) {
  auto done = StartSuspend();
  AwaitState(v1::SYSTEM_STATE_SUSPENDED);
  // The event happened 2 s before it was reported: the latency covers that.
  auto event = std::chrono::steady_clock::now() - std::chrono::seconds(2);
  Run([&] { governor_->ReportWake("irq 5", "root.a.b", "drv", event); });
  auto response = done.get();
  ASSERT_TRUE(response.has_value());
  EXPECT_GE(response->wake_latency().seconds(), 2);
  EXPECT_LT(response->resume_took().seconds(), 2);
}

TEST_F(GovernorTest, WakeStampFromTheFutureCountsAsNow) {
  auto done = StartSuspend();
  AwaitState(v1::SYSTEM_STATE_SUSPENDED);
  auto future = std::chrono::steady_clock::now() + std::chrono::hours(1);
  Run([&] { governor_->ReportWake("irq 5", "root.a.b", "drv", future); });
  auto response = done.get();
  ASSERT_TRUE(response.has_value());
  EXPECT_TRUE(response->has_wake_latency());
  EXPECT_LT(response->wake_latency().seconds(), 3600);
  EXPECT_GE(response->wake_latency().seconds(), 0);
  EXPECT_GE(response->wake_latency().nanos(), 0);
}

TEST_F(GovernorTest, AbortedSuspendHasNoWakeLatency) {
  platform_.suspend_result["root.a.b"] = Fail(ErrorCode::kInternal, "boom");
  auto response = StartSuspend().get();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->outcome(), SuspendResponse::OUTCOME_FAILED_SUSPEND);
  EXPECT_FALSE(response->has_wake_latency());
}

TEST_F(GovernorTest, ExpectedGenerationMismatchIsRefused) {
  Run([&] { governor_->ReportWake("early", "", ""); });
  v1::SuspendRequest request;
  request.set_expected_generation(0);
  auto response = StartSuspend(request).get();
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code(), ErrorCode::kFailedPrecondition);
}

TEST_F(GovernorTest, WakeAfterArmsTheAlarmBeforeCommitting) {
  v1::SuspendRequest request;
  request.mutable_wake_after()->set_seconds(5);
  auto done = StartSuspend(request);
  AwaitState(v1::SYSTEM_STATE_SUSPENDED);
  Run([&] {
    EXPECT_EQ(platform_.calls.back(), "alarm");
    governor_->ReportWake("alarm", "root.alarm", "alarm");
  });
  EXPECT_EQ(done.get()->wake_reason(), "alarm");
}

TEST_F(GovernorTest, SecondSuspendIsRefusedWhileOneRuns) {
  auto first = StartSuspend();
  AwaitState(v1::SYSTEM_STATE_SUSPENDED);
  auto second = StartSuspend().get();
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code(), ErrorCode::kFailedPrecondition);
  Run([&] { governor_->Resume(""); });
  EXPECT_TRUE(first.get().has_value());
}

// pm_test: a test suspend goes as far as asked, unwinds by itself (the
// simulated HAL would otherwise stay suspended until a Resume), and is not
// counted.
TEST_F(GovernorTest, TestModeDriversSuspendsEveryDriverAndUnwindsWithoutCommitting) {
  v1::SuspendRequest request;
  request.set_test(v1::SuspendRequest::TEST_MODE_DRIVERS);
  auto response = StartSuspend(request).get();
  ASSERT_TRUE(response.has_value()) << response.error().ToString();
  EXPECT_EQ(response->outcome(), SuspendResponse::OUTCOME_TESTED);
  Run([&] {
    for (const auto& t : platform_.targets) {
      EXPECT_LT(IndexOf("suspend " + t.node_path), IndexOf("resume " + t.node_path));
      EXPECT_EQ(platform_.resumes[t.node_path], 1);
    }
    EXPECT_EQ(std::ranges::count(platform_.states, v1::SYSTEM_STATE_SUSPENDED), 0)
        << "never committed";
    EXPECT_EQ(governor_->state(), v1::SYSTEM_STATE_RUNNING);
    EXPECT_EQ(governor_->Stats().success(), 0u);
    EXPECT_EQ(governor_->Plan().history(), 0u) << "tests do not count as past runs";
  });
}

TEST_F(GovernorTest, TestModeHalCommitsButDoesNotEnterTheHal) {
  v1::SuspendRequest request;
  request.set_test(v1::SuspendRequest::TEST_MODE_HAL);
  auto response = StartSuspend(request).get();  // No Resume: it wakes by itself.
  ASSERT_TRUE(response.has_value()) << response.error().ToString();
  EXPECT_EQ(response->outcome(), SuspendResponse::OUTCOME_TESTED);
  EXPECT_EQ(response->wake_reason(), "test: hal");
  Run([&] {
    EXPECT_EQ(std::ranges::count(platform_.states, v1::SYSTEM_STATE_SUSPENDED), 1);
    for (const auto& t : platform_.targets) EXPECT_EQ(platform_.resumes[t.node_path], 1);
    EXPECT_EQ(governor_->state(), v1::SYSTEM_STATE_RUNNING);
  });
}

TEST_F(GovernorTest, TestModeRefusesWakeAfterAndStillAbortsOnALease) {
  v1::SuspendRequest request;
  request.set_test(v1::SuspendRequest::TEST_MODE_HAL);
  request.mutable_wake_after()->set_seconds(1);
  auto refused = StartSuspend(request).get();
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), ErrorCode::kInvalidArgument);

  request.clear_wake_after();
  platform_.on_suspend = [&](const std::string& node) {
    if (node == "root.a") governor_->AcquireLease({.name = "late", .holder = "client"});
  };
  auto response = StartSuspend(request).get();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->outcome(), SuspendResponse::OUTCOME_ABORTED_BY_LEASE);
}

// Suspend blockers: what a blocker's stream would carry.
struct BlockerEvents {
  std::vector<v1::SuspendBlockerEvent> events;
  std::function<void(const v1::SuspendBlockerEvent&)> on_event;
  SuspendBlockers::Sink Sink() {
    return [this](const v1::SuspendBlockerEvent& e) {
      events.push_back(e);
      if (on_event) on_event(e);
      return true;
    };
  }
  std::vector<v1::SuspendBlockerEvent::Kind> kinds() const {
    std::vector<v1::SuspendBlockerEvent::Kind> out;
    for (const auto& e : events) out.push_back(e.kind());
    return out;
  }
};

TEST_F(GovernorTest, ASuspendWaitsForItsBlockersAcknowledgement) {
  BlockerEvents blocker;
  uint64_t id = Run([&] {
    return governor_->blockers().Add({.name = "sync", .pid = 7}, blocker.Sink());
  });
  auto done = StartSuspend();
  Run([&] {
    ASSERT_EQ(blocker.events.size(), 2u);
    EXPECT_EQ(blocker.events[1].kind(), v1::SuspendBlockerEvent::KIND_BEFORE_SUSPEND);
    EXPECT_TRUE(platform_.calls.empty()) << "no driver suspends before the acknowledgement";
    EXPECT_EQ(governor_->blockers().Ack(id, blocker.events[1].seq() + 1, 7).error().code(),
              ErrorCode::kFailedPrecondition);
    EXPECT_EQ(governor_->blockers().Ack(id, blocker.events[1].seq(), 8).error().code(),
              ErrorCode::kPermissionDenied);
    EXPECT_EQ(governor_->blockers().Ack(id + 1, blocker.events[1].seq(), 7).error().code(),
              ErrorCode::kNotFound);
    ASSERT_TRUE(governor_->blockers().Ack(id, blocker.events[1].seq(), 7));
  });
  AwaitState(v1::SYSTEM_STATE_SUSPENDED);
  Run([&] { governor_->Resume("test"); });
  auto response = done.get();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->outcome(), SuspendResponse::OUTCOME_RESUMED);
  EXPECT_TRUE(response->missed_blockers().empty());
  Run([&] {
    using K = v1::SuspendBlockerEvent;
    EXPECT_EQ(blocker.kinds(), (std::vector{K::KIND_REGISTERED, K::KIND_BEFORE_SUSPEND,
                                            K::KIND_AFTER_RESUME}));
  });
}

TEST_F(GovernorTest, ABlockerThatStallsIsSkippedAtItsDeadline) {
  BlockerEvents stalls, acks;
  Run([&] {
    governor_->blockers().Add({.name = "stalls", .deadline = std::chrono::milliseconds(20)},
                              stalls.Sink());
    uint64_t id = governor_->blockers().Add({.name = "acks"}, acks.Sink());
    acks.on_event = [&, id](const v1::SuspendBlockerEvent& e) {
      if (e.kind() != v1::SuspendBlockerEvent::KIND_BEFORE_SUSPEND) return;
      (void)dispatcher_.Post([&, id, seq = e.seq()] { (void)governor_->blockers().Ack(id, seq, 0); });
    };
  });
  auto done = StartSuspend();
  AwaitState(v1::SYSTEM_STATE_SUSPENDED);  // Without the stalled blocker.
  Run([&] { governor_->Resume("test"); });
  auto response = done.get();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->outcome(), SuspendResponse::OUTCOME_RESUMED);
  EXPECT_EQ(std::vector<std::string>(response->missed_blockers().begin(),
                                     response->missed_blockers().end()),
            std::vector<std::string>{"stalls"});
  Run([&] { EXPECT_EQ(stalls.events.back().kind(), v1::SuspendBlockerEvent::KIND_AFTER_RESUME); });
}

TEST_F(GovernorTest, ABlockerThatTakesALeaseAbortsTheSuspend) {
  BlockerEvents blocker;
  Run([&] {
    blocker.on_event = [&](const v1::SuspendBlockerEvent& e) {
      if (e.kind() != v1::SuspendBlockerEvent::KIND_BEFORE_SUSPEND) return;
      (void)dispatcher_.Post([&] { governor_->AcquireLease({.name = "upload", .holder = "client"}); });
    };
    governor_->blockers().Add({.name = "net"}, blocker.Sink());
  });
  auto response = StartSuspend().get();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->outcome(), SuspendResponse::OUTCOME_ABORTED_BY_LEASE);
  Run([&] {
    EXPECT_TRUE(platform_.calls.empty()) << "no driver was suspended";
    EXPECT_EQ(blocker.events.back().kind(), v1::SuspendBlockerEvent::KIND_AFTER_RESUME);
    EXPECT_EQ(governor_->state(), v1::SYSTEM_STATE_RUNNING);
  });
}

TEST_F(GovernorTest, ABlockerThatGoesAwayNoLongerHoldsTheSuspend) {
  BlockerEvents blocker;
  uint64_t id = Run([&] { return governor_->blockers().Add({.name = "gone"}, blocker.Sink()); });
  auto done = StartSuspend();
  Run([&] {
    EXPECT_TRUE(platform_.calls.empty());
    governor_->blockers().Remove(id);
  });
  AwaitState(v1::SYSTEM_STATE_SUSPENDED);
  Run([&] { governor_->Resume("test"); });
  ASSERT_TRUE(done.get().has_value());
}

TEST_F(GovernorTest, ALeaseBumpsTheWakeGenerationSoAStaleSuspendIsRefused) {
  uint64_t generation = Run([&] { return governor_->wake_generation(); });
  uint64_t id = Run([&] { return governor_->AcquireLease({"tick", "client", 3, 0}).value(); });
  Run([&] { EXPECT_TRUE(governor_->ReleaseLease(id)); });
  v1::SuspendRequest request;
  request.set_expected_generation(generation);
  auto refused = StartSuspend(request).get();
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), ErrorCode::kFailedPrecondition);
  Run([&] { EXPECT_TRUE(platform_.calls.empty()); });
}

TEST_F(GovernorTest, AWhenIdleSuspendStartsWhenTheLastLeaseDrops) {
  uint64_t a = Run([&] { return governor_->AcquireLease({"a", "client", 3, 0}).value(); });
  uint64_t b = Run([&] { return governor_->AcquireLease({"b", "client", 3, 0}).value(); });
  v1::SuspendRequest request;
  request.set_when_idle(true);
  auto done = StartSuspend(request);
  Run([&] {
    EXPECT_TRUE(governor_->Status().has_queued_suspend());
    EXPECT_TRUE(governor_->ReleaseLease(a));
    EXPECT_TRUE(platform_.calls.empty()) << "one lease is still held";
    EXPECT_TRUE(governor_->ReleaseLease(b));
    // Started in the same task as the release.
    EXPECT_FALSE(platform_.calls.empty());
    EXPECT_EQ(governor_->state(), v1::SYSTEM_STATE_SUSPENDING);
    EXPECT_FALSE(governor_->Status().has_queued_suspend());
  });
  AwaitState(v1::SYSTEM_STATE_SUSPENDED);
  Run([&] { governor_->Resume("test"); });
  auto response = done.get();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->outcome(), SuspendResponse::OUTCOME_RESUMED);
  EXPECT_TRUE(response->overridden_leases().empty());
}

TEST_F(GovernorTest, AWhenIdleSuspendForcesAtItsDeadlineAndNamesWhoItOverrode) {
  Run([&] { (void)governor_->AcquireLease({"stuck", "client", 9, 0}).value(); });
  v1::SuspendRequest request;
  request.set_when_idle(true);
  request.mutable_not_later_than()->set_nanos(20'000'000);
  auto done = StartSuspend(request);
  AwaitState(v1::SYSTEM_STATE_SUSPENDED);
  Run([&] { governor_->Resume("test"); });
  auto response = done.get();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->outcome(), SuspendResponse::OUTCOME_RESUMED);
  ASSERT_EQ(response->overridden_leases_size(), 1);
  EXPECT_NE(response->overridden_leases(0).find("'stuck' held by client (pid 9)"),
            std::string::npos);
}

TEST_F(GovernorTest, AQueuedSuspendCanBeCancelled) {
  Run([&] { EXPECT_EQ(governor_->CancelQueued("t").error().code(), ErrorCode::kFailedPrecondition); });
  Run([&] { (void)governor_->AcquireLease({"hold", "client", 9, 0}).value(); });
  v1::SuspendRequest request;
  request.set_when_idle(true);
  auto done = StartSuspend(request);
  Run([&] { ASSERT_TRUE(governor_->CancelQueued("process 1")); });
  auto response = done.get();
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code(), ErrorCode::kCancelled);
  Run([&] {
    EXPECT_FALSE(governor_->Status().has_queued_suspend());
    EXPECT_TRUE(platform_.calls.empty());
  });
}

TEST_F(GovernorTest, WhenIdleRefusesWaitAndNotLaterThanNeedsWhenIdle) {
  v1::SuspendRequest both;
  both.set_when_idle(true);
  both.mutable_wait()->set_seconds(1);
  EXPECT_EQ(StartSuspend(both).get().error().code(), ErrorCode::kInvalidArgument);
  v1::SuspendRequest alone;
  alone.mutable_not_later_than()->set_seconds(1);
  EXPECT_EQ(StartSuspend(alone).get().error().code(), ErrorCode::kInvalidArgument);
}

TEST_F(GovernorTest, CallbackTimesGoToPerDriverHistogramsWithTheirTargets) {
  platform_.targets[0].suspend_target = std::chrono::milliseconds(1);
  for (int i = 0; i < 2; ++i) {
    auto done = StartSuspend();
    AwaitState(v1::SYSTEM_STATE_SUSPENDED);
    Run([&] { governor_->Resume("test"); });
    ASSERT_TRUE(done.get().has_value());
  }
  auto stats = Run([&] { return governor_->Stats(); });
  ASSERT_EQ(stats.drivers_size(), 4);
  auto a = std::ranges::find_if(stats.drivers(), [](const auto& d) { return d.node_path() == "root.a"; });
  ASSERT_NE(a, stats.drivers().end());
  EXPECT_EQ(a->suspend().count(), 2u);
  EXPECT_EQ(a->resume().count(), 2u);
  EXPECT_EQ(a->suspend().target_us(), 1000u);
  EXPECT_EQ(a->suspend().last_us(), 1u) << "the scripted host measures 1 µs";
  EXPECT_EQ(a->suspend().over_target(), 0u);
}

}  // namespace
}  // namespace trellis::power
