// Race-free hand-over of wake, through real gRPC clients against the real
// manager and hosts: a producer holding a lease passes a message on to a
// consumer, which mints a lease token, sends its lease request with it and
// acknowledges the message with the token without waiting for the grant;
// the producer hands its lease over to the token and lets go. A suspend
// queued with when_idle — which starts in the very task that drops the last
// lease — must never start between the acknowledgement and the consumer's
// grant. Also: the wake generation moves with every lease, so a suspend
// with a stale generation is refused.
#include <gmock/gmock.h>

#include <random>
#include <thread>

#include "tests/integration/testing/power_fixture.h"

namespace trellis::testing {
namespace {

using namespace std::chrono_literals;
using power::v1::SuspendResponse;
using power::v1::WakeLeaseEvent;

// One AcquireWakeLease stream. Open() sends the request and returns at
// once; the grant is read later.
class LeaseStream {
 public:
  LeaseStream(power::v1::Power::Stub& power, const std::string& name, const std::string& token = "",
              uint64_t parent = 0) {
    context_.set_deadline(std::chrono::system_clock::now() + 60s);
    power::v1::AcquireWakeLeaseRequest request;
    request.set_name(name);
    request.set_token(token);
    request.set_parent_lease_id(parent);
    reader_ = power.AcquireWakeLease(&context_, request);
  }
  ~LeaseStream() { Release(); }

  // The next event; EVENT_NOT_SET once the stream has ended.
  WakeLeaseEvent Next() {
    WakeLeaseEvent event;
    if (!reader_->Read(&event)) event.Clear();
    return event;
  }
  // Waits for the grant; 0 if the stream ended instead.
  uint64_t AwaitGrant() {
    WakeLeaseEvent event = Next();
    return event.has_granted() ? event.granted().lease_id() : 0;
  }
  // Closes the stream: the holder lets go.
  void Release() {
    if (released_) return;
    released_ = true;
    context_.TryCancel();
    (void)reader_->Finish();
  }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<WakeLeaseEvent>> reader_;
  bool released_ = false;
};

// 32 hex digits from `rng`, as a client would mint from getrandom(2).
std::string MintToken(std::mt19937_64& rng) {
  char text[33];
  std::snprintf(text, sizeof text, "%016llx%016llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng()));
  return text;
}

class PowerHandOffTest : public PowerFixture {
 protected:
  void SetUp() override {
    StartPowerManager(Board(ProbeNode("p", "trellis,probe-a", 1, 2)),
                      {{"probe-a.json", ProbeManifest("probe-a", "trellis,probe-a", "a")}});
    ASSERT_TRUE(WaitUntil([&] { return BoundNodes("probe").size() == 3; }));
  }

  // PollUntil with a 20 s deadline.
  static bool Poll(const std::function<bool()>& pred) {
    return PollUntil(pred, std::chrono::steady_clock::now() + 20s);
  }

  grpc::Status HandOff(uint64_t lease, const std::string& token, bool* completed = nullptr) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 10s);
    power::v1::HandOffWakeLeaseRequest request;
    request.set_lease_id(lease);
    request.set_token(token);
    power::v1::HandOffWakeLeaseResponse response;
    grpc::Status status = power().HandOffWakeLease(&context, request, &response);
    if (completed != nullptr) *completed = response.completed();
    return status;
  }

  std::future<SuspendResult> QueueSuspend() {
    power::v1::SuspendRequest request;
    request.set_when_idle(true);
    auto queued = SuspendAsync(request);
    EXPECT_TRUE(Poll([&] { return Status().has_queued_suspend(); }));
    return queued;
  }

  // Waits for the queued suspend to end, waking the system with a resume
  // ("test") if it reaches SUSPENDED by itself. True if the suspend started
  // only after the consumer let go: nothing but that resume woke it.
  bool StartedOnlyAfterTheConsumer(std::future<SuspendResult>& suspended, int trial) {
    bool ready = PollUntil(
        [&] {
          if (suspended.wait_for(0s) == std::future_status::ready) return true;
          if (Status().state() == power::v1::SYSTEM_STATE_SUSPENDED) (void)Resume("test");
          return false;
        },
        std::chrono::steady_clock::now() + 20s);
    EXPECT_TRUE(ready) << "trial " << trial << ": the suspend never ended";
    if (!ready) return false;
    auto [status, response] = suspended.get();
    EXPECT_TRUE(status.ok()) << "trial " << trial << ": " << status.error_message();
    return response.outcome() == SuspendResponse::OUTCOME_RESUMED &&
           response.wake_reason() == "test";
  }
};

TEST_F(PowerHandOffTest, ATokenMintedLeaseClosesTheAckRaceIn1000SeededTrials) {
  std::mt19937_64 rng(20261207);
  const int trials = LongTests() ? 10'000 : 1'000;
  int consumer_first = 0, handed_first = 0;
  for (int trial = 0; trial < trials; ++trial) {
    const std::string token = MintToken(rng);
    const bool consumer_late = rng() % 2 == 0;
    const auto delay = std::chrono::microseconds(rng() % 300);

    LeaseStream producer(power(), "irq");
    const uint64_t produced = producer.AwaitGrant();
    ASSERT_NE(produced, 0u) << "trial " << trial;
    auto suspended = QueueSuspend();

    // The consumer takes the message: its lease request goes out with the
    // token, the acknowledgement (the token) at once, no waiting.
    std::optional<LeaseStream> consumer;
    if (!consumer_late) consumer.emplace(power(), "consumer", token);
    std::this_thread::sleep_for(delay);
    // The producer, acknowledged, hands its lease over and lets go.
    bool completed = false;
    ASSERT_TRUE(HandOff(produced, token, &completed).ok()) << "trial " << trial;
    producer.Release();
    if (consumer_late) {
      // The consumer's request comes only now: the producer's lease must
      // still hold the system up, with the suspend still queued.
      ASSERT_FALSE(completed);
      ASSERT_TRUE(Poll([&] {
        auto leases = Status().leases();
        return leases.size() == 1 && leases[0].handing_off();
      })) << "trial " << trial;
      auto status = Status();
      ASSERT_TRUE(status.has_queued_suspend()) << "trial " << trial;
      ASSERT_EQ(status.state(), power::v1::SYSTEM_STATE_RUNNING);
      consumer.emplace(power(), "consumer", token);
    }
    (completed ? consumer_first : handed_first) += 1;
    const uint64_t consumed = consumer->AwaitGrant();
    ASSERT_NE(consumed, 0u) << "trial " << trial;
    if (trial == 0) {
      auto leases = Status().leases();
      ASSERT_EQ(leases.size(), 1);
      EXPECT_EQ(leases[0].parent_lease_id(), produced) << "derived from the lease handed over";
      EXPECT_THAT(leases[0].chain(), ::testing::ElementsAre("irq"));
    }
    consumer->Release();  // Done with the message: now the suspend may start.
    ASSERT_TRUE(StartedOnlyAfterTheConsumer(suspended, trial))
        << "trial " << trial << ": a suspend started between the acknowledgement and the "
        << "consumer's lease (" << (consumer_late ? "late" : "early") << " consumer, "
        << delay.count() << " us)";
  }
  // Both orders happened: the grant before the hand-off, and after it.
  EXPECT_GT(consumer_first, 0);
  EXPECT_GT(handed_first, 0);
  std::printf("hand-off trials: %d, receiver granted first in %d\n", trials, consumer_first);
}

// The same exchange without the hand-off: the producer's letting go starts
// the queued suspend before the consumer's lease comes — the race the
// token closes. Deterministic: the consumer asks only once it has gone.
TEST_F(PowerHandOffTest, WithoutTheHandOffTheSuspendStartsBetweenTheAckAndTheLease) {
  for (int trial = 0; trial < 5; ++trial) {
    LeaseStream producer(power(), "irq");
    ASSERT_NE(producer.AwaitGrant(), 0u);
    auto suspended = QueueSuspend();
    producer.Release();
    ASSERT_TRUE(WaitUntil([&] { return !Status().has_queued_suspend(); }));
    LeaseStream consumer(power(), "consumer");
    ASSERT_NE(consumer.AwaitGrant(), 0u);
    consumer.Release();
    EXPECT_FALSE(StartedOnlyAfterTheConsumer(suspended, trial))
        << "the consumer's lease did not abort or wake the suspend that started without it";
  }
}

TEST_F(PowerHandOffTest, AHandOffNobodyTakesEndsAtItsDeadline) {
  LeaseStream producer(power(), "irq");
  const uint64_t id = producer.AwaitGrant();
  grpc::ClientContext context;
  power::v1::HandOffWakeLeaseRequest request;
  request.set_lease_id(id);
  request.set_token("nobody-will-come-0001");
  request.mutable_deadline()->set_nanos(50'000'000);
  power::v1::HandOffWakeLeaseResponse response;
  ASSERT_TRUE(power().HandOffWakeLease(&context, request, &response).ok());
  producer.Release();
  EXPECT_TRUE(WaitUntil([&] { return Status().leases().empty(); }));
  grpc::ClientContext stats_context;
  power::v1::StatsResponse stats;
  ASSERT_TRUE(power().Stats(&stats_context, {}, &stats).ok());
  EXPECT_EQ(stats.stats().expired_handoffs(), 1u);
}

TEST_F(PowerHandOffTest, BadHandOffsAndTokensAreRefused) {
  EXPECT_EQ(HandOff(999, "0123456789abcdef").error_code(), grpc::StatusCode::NOT_FOUND);
  LeaseStream producer(power(), "irq", "0123456789abcdef");
  const uint64_t id = producer.AwaitGrant();
  EXPECT_EQ(HandOff(id, "short").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  LeaseStream twin(power(), "twin", "0123456789abcdef");
  EXPECT_EQ(twin.AwaitGrant(), 0u) << "a held lease has that token";
  ASSERT_TRUE(HandOff(id, "fedcba9876543210").ok());
  EXPECT_EQ(HandOff(id, "fedcba9876543211").error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  LeaseStream orphan(power(), "orphan", "", 12345);
  EXPECT_EQ(orphan.AwaitGrant(), 0u) << "no lease 12345 to derive from";
}

// A driver hands its lease over the same way (NodeChannel.HandOffWakeLease):
// the client's lease derives from it, and the suspend queued meanwhile
// waits for the client.
TEST_F(PowerHandOffTest, ADriverHandsItsLeaseOverToAClientsToken) {
  ASSERT_TRUE(Command("root.sys.p", kProbeHoldLease, 1).has_value());
  ASSERT_TRUE(Poll([&] { return Command("root.sys.p", kProbeHasLease).value_or(0) == 1; }));
  auto suspended = QueueSuspend();
  const uint64_t high = 0x0123456789abcdefULL, low = 0xfedcba9876543210ULL;
  ASSERT_TRUE(Command("root.sys.p", kProbeHandOffLease, high, low).has_value());
  // The driver has let go; its lease is kept for the client.
  ASSERT_TRUE(Poll([&] {
    auto leases = Status().leases();
    return Command("root.sys.p", kProbeHasLease).value_or(1) == 0 && leases.size() == 1 &&
           leases[0].handing_off();
  }));
  EXPECT_EQ(Status().state(), power::v1::SYSTEM_STATE_RUNNING);
  EXPECT_TRUE(Status().has_queued_suspend());
  LeaseStream client(power(), "client-work", "0123456789abcdeffedcba9876543210");
  ASSERT_NE(client.AwaitGrant(), 0u);
  auto leases = Status().leases();
  ASSERT_EQ(leases.size(), 1) << "the driver's lease ended with the grant";
  EXPECT_EQ(leases[0].name(), "client-work");
  EXPECT_THAT(leases[0].chain(), ::testing::ElementsAre("probe-hold"));
  client.Release();
  EXPECT_TRUE(StartedOnlyAfterTheConsumer(suspended, 0));
}

// Like /sys/power/wakeup_count: a lease taken and dropped after the
// generation was read refuses the suspend.
TEST_F(PowerHandOffTest, ALeaseSinceTheGenerationWasReadRefusesTheSuspend) {
  const uint64_t generation = Status().wake_generation();
  {
    LeaseStream blip(power(), "blip");
    ASSERT_NE(blip.AwaitGrant(), 0u);
  }
  ASSERT_TRUE(WaitUntil([&] { return Status().leases().empty(); }));
  power::v1::SuspendRequest request;
  request.set_expected_generation(generation);
  auto [status, response] = SuspendAsync(request).get();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), ::testing::HasSubstr("wake generation"));
  EXPECT_EQ(Status().state(), power::v1::SYSTEM_STATE_RUNNING);
}

}  // namespace
}  // namespace trellis::testing
