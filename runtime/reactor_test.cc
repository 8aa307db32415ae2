#include "runtime/reactor.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include "runtime/dispatcher.h"
#include "runtime/runtime.h"
#include "runtime/testing/wait.h"

namespace trellis {
namespace {

using namespace std::chrono_literals;
using testing::WaitFor;

// A pipe whose ends close with the test.
struct Pipe {
  Pipe() { EXPECT_EQ(pipe2(fds, O_CLOEXEC), 0); }
  ~Pipe() {
    close(fds[0]);
    close(fds[1]);
  }
  int read_end() const { return fds[0]; }
  int write_end() const { return fds[1]; }
  int fds[2] = {-1, -1};
};

class ReactorTest : public ::testing::Test {
 protected:
  void SetUp() override { Start({}); }
  void Start(ReactorOptions options) {
    dispatcher_ = Dispatcher();
    runtime_.reset();
    auto runtime = Runtime::Create({.threads = 2, .reactor = options});
    ASSERT_TRUE(runtime.has_value()) << runtime.error().ToString();
    runtime_ = std::move(*runtime);
    dispatcher_ = Dispatcher::Create(*runtime_, {.name = "test"});
  }
  void TearDown() override {
    dispatcher_ = Dispatcher();
    runtime_.reset();
  }
  Reactor& reactor() { return runtime_->reactor(); }
  // Runs `fn` on the test dispatcher and waits for it.
  template <typename Fn>
  void OnDispatcher(Fn fn) {
    std::promise<void> done;
    ASSERT_TRUE(dispatcher_.Post([&] {
      fn();
      done.set_value();
    }));
    ASSERT_TRUE(WaitFor(done.get_future()));
  }
  SubmitOptions On() { return SubmitOptions{.dispatcher = dispatcher_.borrow()}; }

  std::unique_ptr<Runtime> runtime_;
  Dispatcher dispatcher_;
};

TEST_F(ReactorTest, ProbeReportsSupportedAndUnsupportedOpcodes) {
  EXPECT_TRUE(reactor().Probe(IORING_OP_NOP));
  EXPECT_TRUE(reactor().Probe(IORING_OP_READ));
  // No kernel has opcodes this high (6.18 stops in the 50s).
  EXPECT_FALSE(reactor().Probe(250));
  EXPECT_FALSE(reactor().Probe(255));
}

TEST_F(ReactorTest, CancelledPipeReadCompletesWithEcanceledAndBufferStaysValid) {
  Pipe pipe;
  std::promise<Completion> done;
  std::optional<Operation> op;
  OnDispatcher([&] {
    auto r = reactor().Read(pipe.read_end(), 0, IoBuffer::Allocate(4096),
                            [&](Completion c) { done.set_value(std::move(c)); });
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
    op = std::move(*r);
  });
  ASSERT_TRUE(op->pending());
  op->Cancel();
  auto f = done.get_future();
  ASSERT_TRUE(WaitFor(f));
  Completion c = f.get();
  EXPECT_EQ(c.result, -ECANCELED);
  ASSERT_TRUE(c.buffer);
  ASSERT_EQ(c.buffer.size(), 4096u);
  // The buffer is still ours and alive: touching all of it is fine under ASan.
  std::memset(c.buffer.data(), 0xAB, c.buffer.size());
  EXPECT_EQ(static_cast<unsigned char>(c.buffer.data()[4095]), 0xAB);
  EXPECT_FALSE(op->pending());
  EXPECT_EQ(c.status().error().code(), ErrorCode::kCancelled);
}

TEST_F(ReactorTest, DroppedOperationNeverRunsItsHandler) {
  Pipe pipe;
  auto witness = std::make_shared<int>(0);
  std::atomic<bool> ran{false};
  OnDispatcher([&] {
    auto op = reactor().Read(pipe.read_end(), 0, IoBuffer::Allocate(64),
                             [&ran, witness](Completion) { ran = true; });
    ASSERT_TRUE(op.has_value());
    EXPECT_EQ(witness.use_count(), 2);
    // `op` is dropped here, while the read is in flight.
  });
  EXPECT_EQ(witness.use_count(), 1) << "a dropped operation's handler is destroyed at once";
  // Data arriving later must not reach anyone, and a later read gets it all.
  ASSERT_EQ(write(pipe.write_end(), "x", 1), 1);
  std::promise<Completion> second;
  std::optional<Operation> keep;
  OnDispatcher([&] {
    auto op = reactor().Read(pipe.read_end(), 0, IoBuffer::Allocate(1),
                             [&](Completion c) { second.set_value(std::move(c)); });
    ASSERT_TRUE(op.has_value());
    keep = std::move(*op);
  });
  auto f = second.get_future();
  ASSERT_TRUE(WaitFor(f));
  EXPECT_EQ(f.get().result, 1);
  EXPECT_FALSE(ran.load());
  EXPECT_GE(reactor().stats().cancels_sent, 1u);
}

TEST_F(ReactorTest, RingOfFourCompletesTenThousandSubmissions) {
  Start({.entries = 4});
  ASSERT_EQ(reactor().sq_entries(), 4u);
  constexpr int kOps = 10'000;
  std::vector<Operation> ops;
  ops.reserve(kOps);
  std::atomic<int> completed{0};
  std::atomic<int> failed{0};
  std::atomic<int> out_of_order{0};
  std::atomic<unsigned> max_in_flight_seen{0};
  int next_expected = 0;  // Touched only by handlers, which are serialized.
  std::promise<void> all_done;
  OnDispatcher([&] {
    for (int i = 0; i < kOps; ++i) {
      io_uring_sqe sqe{};
      io_uring_prep_nop(&sqe);
      auto op = reactor().Submit(sqe, [&, i](Completion c) {
        if (c.result != 0) failed.fetch_add(1);
        if (i != next_expected) out_of_order.fetch_add(1);
        next_expected = i + 1;
        unsigned in_flight = reactor().stats().in_flight;
        if (in_flight > max_in_flight_seen) max_in_flight_seen = in_flight;
        if (completed.fetch_add(1) + 1 == kOps) all_done.set_value();
      });
      ASSERT_TRUE(op.has_value()) << op.error().ToString();
      ops.push_back(std::move(*op));
    }
  });
  ASSERT_TRUE(WaitFor(all_done.get_future()));
  EXPECT_EQ(completed.load(), kOps);
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(out_of_order.load(), 0) << "waiting submissions must enter the ring in order";
  EXPECT_LE(max_in_flight_seen.load(), reactor().max_in_flight());
  ReactorStats stats = reactor().stats();
  EXPECT_GT(stats.backpressured, 0u) << "a 4-entry ring must have pushed back";
  EXPECT_EQ(stats.completed, static_cast<uint64_t>(kOps));
  EXPECT_EQ(stats.queued, 0u);
}

TEST_F(ReactorTest, TimersFireInDeadlineOrderAndNotEarly) {
  std::vector<int> order;
  std::vector<Clock::time_point> fired;
  std::promise<void> done;
  std::vector<Operation> ops;
  auto now = Clock::now();
  std::vector<Clock::time_point> deadlines = {now + 30ms, now + 10ms, now + 20ms};
  OnDispatcher([&] {
    for (int i = 0; i < 3; ++i) {
      auto op = reactor().Timer(deadlines[i], [&, i](Completion c) {
        EXPECT_EQ(c.result, 0);
        order.push_back(i);
        fired.push_back(Clock::now());
        if (order.size() == 3) done.set_value();
      });
      ASSERT_TRUE(op.has_value());
      ops.push_back(std::move(*op));
    }
  });
  ASSERT_TRUE(WaitFor(done.get_future()));
  EXPECT_EQ(order, (std::vector<int>{1, 2, 0}));
  for (int i = 0; i < 3; ++i) EXPECT_GE(fired[i], deadlines[order[i]]);
}

TEST_F(ReactorTest, CancelledTimerReportsEcanceled) {
  std::promise<int> done;
  std::optional<Operation> op;
  OnDispatcher([&] {
    auto r = reactor().Timer(Clock::now() + 1h, [&](Completion c) { done.set_value(c.result); });
    ASSERT_TRUE(r.has_value());
    op = std::move(*r);
  });
  op->Cancel();
  auto f = done.get_future();
  ASSERT_TRUE(WaitFor(f));
  EXPECT_EQ(f.get(), -ECANCELED);
}

TEST_F(ReactorTest, FdReadyReportsReadableAndHandlerRunsOnSubmittingDispatcher) {
  Pipe pipe;
  std::promise<std::pair<int, std::string>> done;
  std::optional<Operation> op;
  OnDispatcher([&] {
    auto r = reactor().FdReady(pipe.read_end(), POLLIN, [&](Completion c) {
      done.set_value({c.result, std::string(UnownedDispatcher::Current().name())});
    });
    ASSERT_TRUE(r.has_value());
    op = std::move(*r);
  });
  ASSERT_EQ(write(pipe.write_end(), "x", 1), 1);
  auto f = done.get_future();
  ASSERT_TRUE(WaitFor(f));
  auto [revents, dispatcher] = f.get();
  EXPECT_TRUE(revents & POLLIN);
  EXPECT_EQ(dispatcher, "test");
}

TEST_F(ReactorTest, SocketReadyRejectsNonSocketsAndReportsHangUp) {
  Pipe pipe;
  OnDispatcher([&] {
    auto r = reactor().SocketReady(pipe.read_end(), POLLIN, [](Completion) {});
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  });
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  std::promise<int> done;
  std::optional<Operation> op;
  OnDispatcher([&] {
    auto r = reactor().SocketReady(sv[0], 0, [&](Completion c) { done.set_value(c.result); });
    ASSERT_TRUE(r.has_value());
    op = std::move(*r);
  });
  close(sv[1]);
  auto f = done.get_future();
  ASSERT_TRUE(WaitFor(f));
  EXPECT_TRUE(f.get() & (POLLRDHUP | POLLHUP));
  close(sv[0]);
}

TEST_F(ReactorTest, WaitReadsTheEventfdCounter) {
  int efd = eventfd(0, EFD_CLOEXEC);
  ASSERT_GE(efd, 0);
  std::promise<uint64_t> done;
  std::optional<Operation> op;
  OnDispatcher([&] {
    auto r = reactor().Wait(efd, 8, [&](Completion c) {
      uint64_t value = 0;
      if (c.result == 8) std::memcpy(&value, c.buffer.data(), 8);
      done.set_value(value);
    });
    ASSERT_TRUE(r.has_value());
    op = std::move(*r);
  });
  uint64_t add = 5;
  ASSERT_EQ(write(efd, &add, 8), 8);
  auto f = done.get_future();
  ASSERT_TRUE(WaitFor(f));
  EXPECT_EQ(f.get(), 5u);
  close(efd);
  OnDispatcher([&] {
    EXPECT_FALSE(reactor().Wait(0, 0, [](Completion) {}).has_value());
    EXPECT_FALSE(reactor().Wait(0, 65, [](Completion) {}).has_value());
  });
}

TEST_F(ReactorTest, ReadAndWriteMoveRealBytes) {
  char path[] = "/tmp/trellis-reactor-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  unlink(path);
  IoBuffer out = IoBuffer::Allocate(8192);
  for (size_t i = 0; i < out.size(); ++i) out.data()[i] = static_cast<std::byte>(i * 7);
  std::promise<int> wrote;
  std::vector<Operation> ops;
  OnDispatcher([&] {
    auto r =
        reactor().Write(fd, 4096, std::move(out), [&](Completion c) { wrote.set_value(c.result); });
    ASSERT_TRUE(r.has_value());
    ops.push_back(std::move(*r));
  });
  auto wf = wrote.get_future();
  ASSERT_TRUE(WaitFor(wf));
  ASSERT_EQ(wf.get(), 8192);
  std::promise<Completion> read;
  OnDispatcher([&] {
    auto r = reactor().Read(fd, 4096 + 100, IoBuffer::Allocate(1000),
                            [&](Completion c) { read.set_value(std::move(c)); });
    ASSERT_TRUE(r.has_value());
    ops.push_back(std::move(*r));
  });
  auto rf = read.get_future();
  ASSERT_TRUE(WaitFor(rf));
  Completion c = rf.get();
  ASSERT_EQ(c.result, 1000);
  for (size_t i = 0; i < 1000; ++i) {
    ASSERT_EQ(c.buffer.data()[i], static_cast<std::byte>((i + 100) * 7)) << "byte " << i;
  }
  close(fd);
}

TEST_F(ReactorTest, SubmitWithoutADispatcherIsRefused) {
  io_uring_sqe sqe{};
  io_uring_prep_nop(&sqe);
  auto r = reactor().Submit(sqe, [](Completion) {});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kFailedPrecondition);
}

TEST_F(ReactorTest, SubmittingFromOutsideTheRuntimeNamesTheDispatcher) {
  std::promise<std::string> done;
  io_uring_sqe sqe{};
  io_uring_prep_nop(&sqe);
  auto r = reactor().Submit(
      sqe, [&](Completion) { done.set_value(std::string(UnownedDispatcher::Current().name())); },
      On());
  ASSERT_TRUE(r.has_value());
  auto f = done.get_future();
  ASSERT_TRUE(WaitFor(f));
  EXPECT_EQ(f.get(), "test");
}

// Eight NOP submissions' handles and a promise kept when all completed.
struct EightNops {
  std::atomic<int> completed{0};
  std::promise<void> all;
  std::vector<Operation> ops;
  CompletionHandler Counter() {
    return [this](Completion) {
      if (++completed == 8) all.set_value();
    };
  }
};

TEST_F(ReactorTest, SubmitBatchSubmitsTogetherNotOncePerOperation) {
  EightNops nops;
  uint64_t before = reactor().stats().enters;
  {
    Reactor::SubmitBatch batch(&reactor());
    for (int i = 0; i < 8; ++i) {
      io_uring_sqe sqe{};
      io_uring_prep_nop(&sqe);
      auto r = reactor().Submit(sqe, nops.Counter(), On());
      ASSERT_TRUE(r.has_value());
      nops.ops.push_back(std::move(*r));
    }
    // Prepared, not submitted (the reactor thread may flush once on its own
    // if it happens to loop now; one enter per submission would be 8).
    EXPECT_LE(reactor().stats().enters, before + 1);
  }
  EXPECT_LE(reactor().stats().enters, before + 2);
  EXPECT_GE(reactor().stats().enters, before + 1);
  EXPECT_TRUE(WaitFor(nops.all.get_future()));
}

TEST_F(ReactorTest, InlineVisitFromOutsideTheRuntimeSubmitsTogetherAtItsEnd) {
  EightNops nops;
  uint64_t before = reactor().stats().enters;
  uint64_t during = 0;
  std::thread::id ran_on;
  ASSERT_TRUE(dispatcher_.borrow().RunOrPost([&] {
    ran_on = std::this_thread::get_id();
    for (int i = 0; i < 8; ++i) {
      io_uring_sqe sqe{};
      io_uring_prep_nop(&sqe);
      auto r = reactor().Submit(sqe, nops.Counter());
      ASSERT_TRUE(r.has_value());
      nops.ops.push_back(std::move(*r));
    }
    during = reactor().stats().enters;
  }));
  ASSERT_EQ(ran_on, std::this_thread::get_id());  // The dispatcher was idle: inline.
  // One enter at the end of the visit (plus at most one of the reactor
  // thread's own, if it happened to loop meanwhile) — not one per NOP.
  EXPECT_LE(during, before + 1);
  EXPECT_LE(reactor().stats().enters, before + 2);
  EXPECT_GE(reactor().stats().enters, before + 1);
  EXPECT_TRUE(WaitFor(nops.all.get_future()));
}

TEST_F(ReactorTest, ShutdownCancelsInFlightOperationsBeforeTheObserverFires) {
  Pipe pipe;
  auto witness = std::make_shared<int>(0);
  std::atomic<bool> ran{false};
  Dispatcher d = Dispatcher::Create(*runtime_, {.name = "doomed"});
  std::vector<Operation> ops;
  std::promise<void> submitted;
  ASSERT_TRUE(d.Post([&] {
    for (int i = 0; i < 3; ++i) {
      auto op = reactor().Read(pipe.read_end(), 0, IoBuffer::Allocate(16),
                               [&ran, witness](Completion) { ran = true; });
      ASSERT_TRUE(op.has_value());
      op->Detach();  // Nobody holds a handle: only shutdown can cancel these.
    }
    submitted.set_value();
  }));
  ASSERT_TRUE(WaitFor(submitted.get_future()));
  EXPECT_EQ(reactor().stats().in_flight, 3u);
  std::promise<unsigned> observed;
  ASSERT_TRUE(d.Shutdown([&] { observed.set_value(reactor().stats().in_flight); }));
  auto f = observed.get_future();
  ASSERT_TRUE(WaitFor(f));
  EXPECT_EQ(f.get(), 0u) << "observer fired while the kernel still held the dispatcher's I/O";
  EXPECT_FALSE(ran.load());
  EXPECT_EQ(witness.use_count(), 1);
}

TEST_F(ReactorTest, CompletionForSuspendedDispatcherWaitsForResume) {
  Dispatcher d = Dispatcher::Create(*runtime_, {.name = "managed", .power_managed = true});
  Pipe pipe;
  // Touched only by tasks of `d`, which never overlap.
  std::vector<std::string> order;
  std::promise<void> handled;
  std::atomic<bool> ran{false};
  std::optional<Operation> op;
  std::promise<void> submitted;
  ASSERT_TRUE(d.Post([&] {
    auto r = reactor().FdReady(pipe.read_end(), POLLIN, [&](Completion) {
      ran = true;
      order.push_back("completion");
      handled.set_value();
    });
    ASSERT_TRUE(r.has_value());
    op = std::move(*r);
    submitted.set_value();
  }));
  ASSERT_TRUE(WaitFor(submitted.get_future()));
  std::promise<void> suspended;
  ASSERT_TRUE(d.Suspend([&] { suspended.set_value(); }));
  ASSERT_TRUE(WaitFor(suspended.get_future()));
  ASSERT_EQ(write(pipe.write_end(), "x", 1), 1);
  // The CQE has been taken once the op is no longer pending; its handler is
  // then queued (or about to be), never run, while suspended.
  while (op->pending()) std::this_thread::yield();
  EXPECT_FALSE(ran.load()) << "a handler ran on a suspended dispatcher";
  ASSERT_TRUE(d.Resume([&] { order.push_back("wake"); }));
  auto done = handled.get_future();
  ASSERT_TRUE(WaitFor(done));
  std::promise<std::vector<std::string>> seen;
  ASSERT_TRUE(d.Post([&] { seen.set_value(order); }));
  auto f = seen.get_future();
  ASSERT_TRUE(WaitFor(f));
  EXPECT_EQ(f.get(), (std::vector<std::string>{"wake", "completion"}))
      << "the wake task runs before the completion held during suspend";
}

TEST_F(ReactorTest, SystemCompletionRunsWhileTheDispatcherIsSuspended) {
  Dispatcher d = Dispatcher::Create(*runtime_, {.name = "managed", .power_managed = true});
  Pipe pipe;
  std::promise<bool> handled;  // Whether the dispatcher was suspended then.
  std::optional<Operation> op;
  std::promise<void> submitted;
  ASSERT_TRUE(d.Post([&] {
    auto r = reactor().FdReady(
        pipe.read_end(), POLLIN,
        [&](Completion) { handled.set_value(UnownedDispatcher::Current().is_suspended()); },
        SubmitOptions{.system = true});
    ASSERT_TRUE(r.has_value());
    op = std::move(*r);
    submitted.set_value();
  }));
  ASSERT_TRUE(WaitFor(submitted.get_future()));
  std::promise<void> suspended;
  ASSERT_TRUE(d.Suspend([&] { suspended.set_value(); }));
  ASSERT_TRUE(WaitFor(suspended.get_future()));
  ASSERT_EQ(write(pipe.write_end(), "x", 1), 1);
  auto done = handled.get_future();
  ASSERT_TRUE(WaitFor(done)) << "a system completion waited for resume";
  EXPECT_TRUE(done.get());
  ASSERT_TRUE(d.Resume());
}

}  // namespace
}  // namespace trellis
