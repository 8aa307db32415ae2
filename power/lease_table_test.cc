// LeaseTable: hand-offs, budgets, derivation chains and what they are
// charged, on a real dispatcher (its timers drive budgets and deadlines).
#include "power/lease_table.h"

#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

#include <thread>

#include "runtime/runtime.h"
#include "runtime/testing/run_on.h"

namespace trellis::power {
namespace {

using google::protobuf::util::TimeUtil;
using namespace std::chrono_literals;

constexpr const char* kToken = "0123456789abcdef0123456789abcdef";

// What a lease's stream would carry.
struct Holder {
  std::vector<v1::WakeLeaseEvent> events;
  bool ended = false;
  LeaseNotify Notify() {
    return [this](const v1::WakeLeaseEvent& event, bool last) {
      events.push_back(event);
      ended = ended || last;
    };
  }
};

class LeaseTableTest : public ::testing::Test {
 protected:
  LeaseTableTest()
      : runtime_(Runtime::Create({.threads = 1}).value()),
        dispatcher_(Dispatcher::Create(*runtime_, {.name = "leases"})) {
    testing::RunOn(dispatcher_.borrow(), [&] {
      table_ = std::make_unique<LeaseTable>(
          dispatcher_.borrow(), [this](std::string line) { reports_.push_back(std::move(line)); },
          [this] { ++ended_; });
    });
  }
  ~LeaseTableTest() override {
    testing::RunOn(dispatcher_.borrow(), [&] { table_.reset(); });
  }

  template <typename Fn>
  auto Run(Fn fn) {
    return testing::RunOn(dispatcher_.borrow(), std::move(fn));
  }
  // Polls the dispatcher (no sleeps) until `done` holds.
  template <typename Fn>
  bool Await(Fn done) {
    for (int i = 0; i < 2'000'000; ++i) {
      if (Run(done)) return true;
      std::this_thread::yield();
    }
    return false;
  }
  uint64_t Acquire(LeaseInfo info) {
    return Run([&] { return table_->Acquire(std::move(info)).value(); });
  }
  const v1::LeaseStats* StatsOf(const v1::SuspendStats& stats, const std::string& name) {
    for (const auto& s : stats.leases()) {
      if (s.name() == name) return &s;
    }
    return nullptr;
  }

  std::unique_ptr<Runtime> runtime_;
  Dispatcher dispatcher_;
  std::unique_ptr<LeaseTable> table_;
  std::vector<std::string> reports_;
  int ended_ = 0;
};

TEST_F(LeaseTableTest, AHandedOffLeaseOutlivesItsHolderUntilTheReceiverComes) {
  Holder producer;
  uint64_t a = Acquire({.name = "irq", .holder = "client", .pid = 5, .notify = producer.Notify()});
  Run([&] {
    EXPECT_EQ(table_->HandOff(a, kToken, 5, 1s).value(), false);
    EXPECT_TRUE(table_->Release(a));  // The producer lets go.
    EXPECT_EQ(table_->size(), 1u) << "held for its receiver";
    EXPECT_TRUE(table_->List().leases(0).handing_off());
  });
  uint64_t b = Acquire({.name = "consumer", .holder = "client", .pid = 6, .token = kToken});
  Run([&] {
    ASSERT_EQ(table_->size(), 1u);
    const auto& receiver = table_->held().at(b);
    EXPECT_EQ(receiver.info.parent, a);
    EXPECT_EQ(receiver.chain, std::vector<std::string>{"irq"});
    EXPECT_TRUE(producer.events.empty()) << "its stream had already ended";
  });
}

TEST_F(LeaseTableTest, HandingOffToAReceiverAlreadyHeldEndsTheLeaseAtOnce) {
  Holder producer;
  uint64_t b = Acquire({.name = "consumer", .holder = "client", .token = kToken});
  uint64_t a = Acquire({.name = "irq", .holder = "client", .notify = producer.Notify()});
  Run([&] {
    EXPECT_EQ(table_->HandOff(a, kToken, 0, 1s).value(), true);
    EXPECT_FALSE(table_->held().contains(a));
    EXPECT_EQ(table_->held().at(b).info.parent, a);
  });
  ASSERT_EQ(producer.events.size(), 1u);
  EXPECT_TRUE(producer.ended);
  EXPECT_EQ(producer.events[0].revoked().reason(), "handed off to wake lease " + std::to_string(b));
}

TEST_F(LeaseTableTest, AHandOffNobodyTakesEndsAtItsDeadlineAndIsCounted) {
  uint64_t a = Acquire({.name = "irq", .holder = "client"});
  Run([&] {
    ASSERT_FALSE(table_->HandOff(a, kToken, 0, 10ms).value());
    EXPECT_TRUE(table_->Release(a));
  });
  ASSERT_TRUE(Await([&] { return table_->empty(); }));
  Run([&] {
    EXPECT_EQ(ended_, 1);
    ASSERT_EQ(reports_.size(), 1u);
    EXPECT_NE(reports_[0].find("no lease with its token came within 10 ms"), std::string::npos);
    v1::SuspendStats stats;
    table_->FillStats(stats);
    EXPECT_EQ(stats.expired_handoffs(), 1u);
  });
}

TEST_F(LeaseTableTest, BadTokensParentsAndHandOffsAreRefused) {
  uint64_t a = Acquire({.name = "a", .holder = "client", .pid = 5, .token = kToken});
  Run([&] {
    auto code = [](const auto& result) { return result.error().code(); };
    EXPECT_EQ(code(table_->Acquire({.name = "b", .token = "short"})), ErrorCode::kInvalidArgument);
    EXPECT_EQ(code(table_->Acquire({.name = "b", .token = std::string(20, '/')})),
              ErrorCode::kInvalidArgument);
    EXPECT_EQ(code(table_->Acquire({.name = "b", .token = kToken})), ErrorCode::kAlreadyExists);
    EXPECT_EQ(code(table_->Acquire({.name = "b", .parent = 99})), ErrorCode::kNotFound);
    EXPECT_EQ(code(table_->HandOff(99, "0123456789abcdefX", 5, 1s)), ErrorCode::kNotFound);
    EXPECT_EQ(code(table_->HandOff(a, "0123456789abcdefX", 6, 1s)), ErrorCode::kPermissionDenied);
    EXPECT_EQ(code(table_->HandOff(a, kToken, 5, 1s)), ErrorCode::kInvalidArgument);
    ASSERT_TRUE(table_->HandOff(a, "0123456789abcdefX", 5, 1s));
    EXPECT_EQ(code(table_->HandOff(a, "0123456789abcdefY", 5, 1s)),
              ErrorCode::kFailedPrecondition);
  });
}

TEST_F(LeaseTableTest, ALeaseOverItsBudgetIsAskedToReleaseThenRevoked) {
  Holder holder;
  Acquire({.name = "sync", .holder = "client", .max_hold = 40ms, .notify = holder.Notify()});
  ASSERT_TRUE(Await([&] { return table_->empty(); }));
  Run([&] {
    ASSERT_EQ(holder.events.size(), 2u);
    EXPECT_TRUE(holder.events[0].has_release_requested());
    EXPECT_EQ(TimeUtil::DurationToMilliseconds(holder.events[0].release_requested().revoke_in()),
              10);
    EXPECT_EQ(holder.events[1].revoked().reason(), "held past its budget of 40 ms");
    EXPECT_TRUE(holder.ended);
    EXPECT_EQ(ended_, 1);
    ASSERT_EQ(reports_.size(), 1u);
    EXPECT_NE(reports_[0].find("'sync' (client) revoked"), std::string::npos) << reports_[0];
    v1::SuspendStats stats;
    table_->FillStats(stats);
    EXPECT_EQ(stats.revoked_leases(), 1u);
    ASSERT_NE(StatsOf(stats, "sync"), nullptr);
    EXPECT_EQ(StatsOf(stats, "sync")->revoked(), 1u);
    EXPECT_GE(TimeUtil::DurationToMilliseconds(StatsOf(stats, "sync")->held()), 40);
  });
}

TEST_F(LeaseTableTest, AwakeTimeIsChargedUpTheChain) {
  uint64_t wake = Acquire({.name = "wake:alarm", .holder = "root.sys.alarm"});
  uint64_t driver = Acquire({.name = "rtc", .holder = "root.sys.alarm", .parent = wake});
  uint64_t client = Acquire({.name = "backup", .holder = "client", .parent = driver});
  Run([&] {
    EXPECT_EQ(table_->held().at(client).chain, (std::vector<std::string>{"wake:alarm", "rtc"}));
    EXPECT_EQ(table_->List().leases(2).parent_lease_id(), driver);
    for (uint64_t id : {client, driver, wake}) EXPECT_TRUE(table_->Release(id));
    v1::SuspendStats stats;
    table_->FillStats(stats);
    auto held = [&](const char* name) { return TimeUtil::DurationToNanoseconds(StatsOf(stats, name)->held()); };
    auto charged = [&](const char* name) {
      return TimeUtil::DurationToNanoseconds(StatsOf(stats, name)->charged());
    };
    EXPECT_EQ(charged("backup"), held("backup"));
    EXPECT_EQ(charged("rtc"), held("rtc") + held("backup"));
    EXPECT_EQ(charged("wake:alarm"), held("wake:alarm") + held("rtc") + held("backup"));
    EXPECT_EQ(stats.leases(0).name(), "wake:alarm") << "most charged first";
  });
}

}  // namespace
}  // namespace trellis::power
