#include "runtime/dispatcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <latch>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "runtime/runtime.h"
#include "runtime/testing/wait.h"

namespace trellis {
namespace {

using namespace std::chrono_literals;
using testing::WaitFor;

class DispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto runtime = Runtime::Create({.threads = 4});
    ASSERT_TRUE(runtime.has_value()) << runtime.error().ToString();
    runtime_ = std::move(*runtime);
  }
  Dispatcher Make(std::string name, bool power_managed = false) {
    return Dispatcher::Create(*runtime_, {.name = std::move(name), .power_managed = power_managed});
  }
  // Posts a task and waits until it has run: everything posted before has run.
  void Drain(const UnownedDispatcher& d) {
    std::promise<void> done;
    ASSERT_TRUE(d.Post([&] { done.set_value(); }).has_value());
    ASSERT_TRUE(WaitFor(done.get_future()));
  }
  std::unique_ptr<Runtime> runtime_;
};

TEST_F(DispatcherTest, TasksRunInPostOrder) {
  Dispatcher d = Make("order");
  std::vector<int> seen;
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(d.Post([&seen, i] { seen.push_back(i); }));
  Drain(d);
  ASSERT_EQ(seen.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(seen[i], i);
}

TEST_F(DispatcherTest, TasksOfOneDispatcherNeverOverlapUnderConcurrentPosting) {
  Dispatcher d = Make("serial");
  constexpr int kPosters = 4;
  constexpr int kPerPoster = 5000;
  std::atomic<bool> inside{false};
  std::atomic<int> overlaps{0};
  // Plain ints: a data race here is reported by TSan, an overlap by the flag.
  int total = 0;
  std::vector<int> last_seen(kPosters, -1);
  int order_violations = 0;
  std::vector<std::thread> posters;
  for (int p = 0; p < kPosters; ++p) {
    posters.emplace_back([&, p] {
      for (int i = 0; i < kPerPoster; ++i) {
        ASSERT_TRUE(d.Post([&, p, i] {
          if (inside.exchange(true)) overlaps.fetch_add(1);
          ++total;
          if (last_seen[p] != i - 1) ++order_violations;
          last_seen[p] = i;
          inside.store(false);
        }));
      }
    });
  }
  for (auto& t : posters) t.join();
  Drain(d);
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_EQ(total, kPosters * kPerPoster);
  EXPECT_EQ(order_violations, 0) << "tasks of one poster ran out of post order";
}

TEST_F(DispatcherTest, DifferentDispatchersRunInParallel) {
  Dispatcher a = Make("a");
  Dispatcher b = Make("b");
  std::promise<void> a_entered;
  std::promise<void> b_entered;
  std::promise<bool> a_saw_b;
  ASSERT_TRUE(a.Post([&] {
    a_entered.set_value();
    // Only returns true if b's task runs while this one is still running.
    a_saw_b.set_value(b_entered.get_future().wait_for(10s) == std::future_status::ready);
  }));
  ASSERT_TRUE(WaitFor(a_entered.get_future()));
  ASSERT_TRUE(b.Post([&] { b_entered.set_value(); }));
  auto saw = a_saw_b.get_future();
  ASSERT_TRUE(WaitFor(saw));
  EXPECT_TRUE(saw.get());
}

TEST_F(DispatcherTest, DelayedTasksFireInDeadlineOrder) {
  Dispatcher d = Make("delayed");
  std::mutex mu;
  std::vector<std::string> order;
  std::promise<void> done;
  auto now = Clock::now();
  auto record = [&](std::string name) {
    return [&, name] {
      std::lock_guard lock(mu);
      order.push_back(name);
      if (order.size() == 5) done.set_value();
    };
  };
  // Posted out of order; equal deadlines keep post order.
  ASSERT_TRUE(d.PostAt(now + 60ms, record("60")));
  ASSERT_TRUE(d.PostAt(now + 20ms, record("20a")));
  ASSERT_TRUE(d.PostAt(now + 40ms, record("40")));
  ASSERT_TRUE(d.PostAt(now + 20ms, record("20b")));
  ASSERT_TRUE(d.PostAt(now + 5ms, record("5")));
  ASSERT_TRUE(WaitFor(done.get_future()));
  EXPECT_EQ(order, (std::vector<std::string>{"5", "20a", "20b", "40", "60"}));
}

TEST_F(DispatcherTest, DelayedTaskNeverRunsBeforeItsDeadline) {
  Dispatcher d = Make("deadline");
  auto deadline = Clock::now() + 30ms;
  std::promise<Clock::time_point> ran;
  ASSERT_TRUE(d.PostAt(deadline, [&] { ran.set_value(Clock::now()); }));
  auto f = ran.get_future();
  ASSERT_TRUE(WaitFor(f));
  EXPECT_GE(f.get(), deadline);
}

TEST_F(DispatcherTest, CurrentIsTheDispatcherRunningTheTask) {
  Dispatcher d = Make("current");
  EXPECT_FALSE(UnownedDispatcher::Current());
  std::promise<std::string> name;
  ASSERT_TRUE(d.Post([&] { name.set_value(std::string(UnownedDispatcher::Current().name())); }));
  auto f = name.get_future();
  ASSERT_TRUE(WaitFor(f));
  EXPECT_EQ(f.get(), "current");
}

TEST_F(DispatcherTest, ShutdownDropsQueuedTasksAndObserverFiresOnceAfterRunningTask) {
  Dispatcher d = Make("shutdown");
  std::latch release(1);
  std::promise<void> running;
  ASSERT_TRUE(d.Post([&] {
    running.set_value();
    release.wait();
  }));
  ASSERT_TRUE(WaitFor(running.get_future()));

  auto witness = std::make_shared<int>(0);
  std::atomic<int> ran{0};
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(d.Post([&ran, witness] { ran.fetch_add(1); }));
  }
  ASSERT_TRUE(d.PostAfter(1ms, [&ran, witness] { ran.fetch_add(1); }));
  EXPECT_EQ(witness.use_count(), 5);

  std::atomic<int> observed{0};
  std::promise<void> observer_done;
  ASSERT_TRUE(d.Shutdown([&] {
    observed.fetch_add(1);
    observer_done.set_value();
  }));
  // Dropped tasks are destroyed at once, without running.
  EXPECT_EQ(witness.use_count(), 1);
  auto post = d.Post([] {});
  ASSERT_FALSE(post.has_value());
  EXPECT_EQ(post.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_FALSE(d.Shutdown().has_value()) << "second shutdown must fail";

  // The observer waits for the running task.
  auto observer_future = observer_done.get_future();
  EXPECT_EQ(observer_future.wait_for(50ms), std::future_status::timeout);
  release.count_down();
  ASSERT_TRUE(WaitFor(observer_future));
  EXPECT_EQ(observed.load(), 1);
  EXPECT_EQ(ran.load(), 0);
}

TEST_F(DispatcherTest, SuspendWaitsForRunningTaskAndHoldsNewOnes) {
  Dispatcher d = Make("managed", /*power_managed=*/true);
  std::latch release(1);
  std::promise<void> running;
  std::atomic<bool> first_done{false};
  ASSERT_TRUE(d.Post([&] {
    running.set_value();
    release.wait();
    first_done = true;
  }));
  ASSERT_TRUE(WaitFor(running.get_future()));

  std::promise<bool> suspended;
  ASSERT_TRUE(d.Suspend([&] { suspended.set_value(first_done.load()); }));
  std::atomic<bool> held_ran{false};
  ASSERT_TRUE(d.Post([&] { held_ran = true; }));
  auto suspended_future = suspended.get_future();
  EXPECT_EQ(suspended_future.wait_for(50ms), std::future_status::timeout)
      << "suspend completed while a task was still running";
  release.count_down();
  ASSERT_TRUE(WaitFor(suspended_future));
  EXPECT_TRUE(suspended_future.get()) << "suspend completed before the running task ended";
  EXPECT_TRUE(d.is_suspended());

  // A task posted during suspend stays queued.
  std::promise<void> other_done;
  Dispatcher other = Make("unmanaged");
  ASSERT_TRUE(other.Post([&] { other_done.set_value(); }));
  ASSERT_TRUE(WaitFor(other_done.get_future())) << "unmanaged dispatchers keep running";
  EXPECT_FALSE(held_ran.load());

  ASSERT_TRUE(d.Resume());
  Drain(d);
  EXPECT_TRUE(held_ran.load());
}

TEST_F(DispatcherTest, ResumeRunsWakeTaskFirstThenQueueInOrder) {
  Dispatcher d = Make("wake", /*power_managed=*/true);
  std::promise<void> suspended;
  ASSERT_TRUE(d.Suspend([&] { suspended.set_value(); }));
  ASSERT_TRUE(WaitFor(suspended.get_future()));
  std::vector<std::string> order;
  ASSERT_TRUE(d.Post([&] { order.push_back("queued1"); }));
  ASSERT_TRUE(d.Post([&] { order.push_back("queued2"); }));
  ASSERT_TRUE(d.Resume([&] { order.push_back("wake"); }));
  Drain(d);
  EXPECT_EQ(order, (std::vector<std::string>{"wake", "queued1", "queued2"}));
}

TEST_F(DispatcherTest, SystemTasksRunWhileSuspended) {
  Dispatcher d = Make("system", /*power_managed=*/true);
  std::promise<void> suspended;
  ASSERT_TRUE(d.Suspend([&] { suspended.set_value(); }));
  ASSERT_TRUE(WaitFor(suspended.get_future()));
  std::atomic<bool> managed_ran{false};
  ASSERT_TRUE(d.Post([&] { managed_ran = true; }));
  std::promise<void> system_ran;
  ASSERT_TRUE(d.PostSystem([&] { system_ran.set_value(); }));
  ASSERT_TRUE(WaitFor(system_ran.get_future()));
  EXPECT_FALSE(managed_ran.load());
  ASSERT_TRUE(d.Resume());
  Drain(d);
  EXPECT_TRUE(managed_ran.load());
}

TEST_F(DispatcherTest, SuspendMisuseIsRefused) {
  Dispatcher unmanaged = Make("plain");
  auto r = unmanaged.Suspend([] {});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(r.error().message().find("not power-managed"), std::string::npos);

  Dispatcher managed = Make("managed", true);
  EXPECT_FALSE(managed.Resume().has_value()) << "resume of a running dispatcher";
  ASSERT_TRUE(managed.Suspend([] {}));
  EXPECT_FALSE(managed.Suspend([] {}).has_value()) << "double suspend";
  ASSERT_TRUE(managed.Resume());
}

TEST_F(DispatcherTest, ShutdownWhileSuspendedDropsHeldTasks) {
  Dispatcher d = Make("suspended-shutdown", true);
  ASSERT_TRUE(d.Suspend([] {}));
  auto witness = std::make_shared<int>(0);
  ASSERT_TRUE(d.Post([witness] {}));
  std::promise<void> observed;
  ASSERT_TRUE(d.Shutdown([&] { observed.set_value(); }));
  ASSERT_TRUE(WaitFor(observed.get_future()));
  EXPECT_EQ(witness.use_count(), 1);
}

TEST_F(DispatcherTest, DestroyingTheHandleShutsDown) {
  UnownedDispatcher view;
  {
    Dispatcher d = Make("scoped");
    view = d.borrow();
    EXPECT_FALSE(view.is_shut_down());
  }
  EXPECT_TRUE(view.is_shut_down());
  EXPECT_FALSE(view.Post([] {}).has_value());
}

}  // namespace
}  // namespace trellis
