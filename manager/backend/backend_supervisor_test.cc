// BackendSupervisor with real processes (sh, false) on a real runtime, and a
// short policy so restarts and stops take milliseconds.
#include "manager/backend/backend_supervisor.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <future>

#include "runtime/runtime.h"

namespace trellis::manager {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class BackendSupervisorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/trellis-backend-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    auto runtime = Runtime::Create({.threads = 1, .name = "backend-test"});
    ASSERT_TRUE(runtime);
    runtime_ = std::move(*runtime);
    dispatcher_ = Dispatcher::Create(*runtime_, {.name = "backend-test"});
    RunSync([&] {
      supervisor_ = std::make_unique<BackendSupervisor>(
          runtime_->reactor(), dispatcher_.borrow(), policy_,
          [this](const std::string& path, bool accepted) {
            ready_.push_back(path + (accepted ? ": accepted" : ": not accepted"));
          });
    });
  }

  void TearDown() override {
    RunSync([&] { supervisor_.reset(); });
    (void)dispatcher_.Shutdown();
    runtime_.reset();
    fs::remove_all(dir_);
  }

  void RunSync(std::function<void()> fn) {
    std::promise<void> done;
    auto posted = dispatcher_.Post([&] {
      fn();
      done.set_value();
    });
    ASSERT_TRUE(posted);
    done.get_future().wait();
  }

  node::v1::BackendStatus Status() {
    node::v1::BackendStatus status;
    RunSync([&] { status = supervisor_->Status("root.b").value_or(node::v1::BackendStatus{}); });
    return status;
  }

  // Polls Status until `pred` holds, for up to `timeout`.
  bool WaitFor(const std::function<bool(const node::v1::BackendStatus&)>& pred,
               std::chrono::milliseconds timeout = 10s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (pred(Status())) return true;
      std::this_thread::sleep_for(5ms);
    }
    return pred(Status());
  }

  void Start(std::vector<std::string> argv, bool restart = true) {
    RunSync([&] {
      supervisor_->Start({.node_path = "root.b",
                          .argv = std::move(argv),
                          .socket = dir_ + "/b.sock",
                          .ready_timeout = 200ms,
                          .restart = restart});
    });
  }

  std::string dir_;
  BackendPolicy policy_{.first_backoff = 10ms,
                        .max_backoff = 40ms,
                        .stable_after = 10s,
                        .max_quick_failures = 5,
                        .stop_grace = 300ms,
                        .ready_poll = 5ms};
  std::unique_ptr<Runtime> runtime_;
  Dispatcher dispatcher_;
  std::unique_ptr<BackendSupervisor> supervisor_;
  std::vector<std::string> ready_;  // On the dispatcher.
};

TEST_F(BackendSupervisorTest, BackendExitingAtOnceIsRestartedThenMarkedFailed) {
  Start({"false"});
  ASSERT_TRUE(WaitFor([](auto& s) { return s.state() == node::v1::BACKEND_STATE_FAILED; }))
      << Status().DebugString();
  node::v1::BackendStatus status = Status();
  EXPECT_EQ(status.restart_count(), 4u);
  EXPECT_EQ(status.pid(), 0);
  EXPECT_EQ(status.last_exit(), "exited with status 1");
  RunSync([&] {
    EXPECT_EQ(ready_, std::vector<std::string>{"root.b: not accepted"});
    EXPECT_FALSE(supervisor_->Gating("root.b"));
  });
}

TEST_F(BackendSupervisorTest, BackendWithRestartOffFailsOnItsFirstExit) {
  Start({"sh", "-c", "exit 3"}, /*restart=*/false);
  ASSERT_TRUE(WaitFor([](auto& s) { return s.state() == node::v1::BACKEND_STATE_FAILED; }));
  EXPECT_EQ(Status().restart_count(), 0u);
  EXPECT_EQ(Status().last_exit(), "exited with status 3");
}

TEST_F(BackendSupervisorTest, MissingProgramCountsAsQuickFailures) {
  Start({"/nonexistent/trellis-backend"});
  ASSERT_TRUE(WaitFor([](auto& s) { return s.state() == node::v1::BACKEND_STATE_FAILED; }));
  EXPECT_NE(Status().last_exit().find("could not start"), std::string::npos)
      << Status().last_exit();
}

TEST_F(BackendSupervisorTest, GatesUntilTheReadyTimeoutThenReportsNotAccepted) {
  Start({"sleep", "30"});
  bool gating = false;
  RunSync([&] { gating = supervisor_->Gating("root.b"); });
  EXPECT_TRUE(gating);
  ASSERT_TRUE(WaitFor([](auto& s) { return s.state() == node::v1::BACKEND_STATE_RUNNING; }));
  RunSync([&] {
    EXPECT_EQ(ready_, std::vector<std::string>{"root.b: not accepted"});
    EXPECT_FALSE(supervisor_->Gating("root.b"));
  });
  EXPECT_GT(Status().pid(), 0);
}

TEST_F(BackendSupervisorTest, ReportsAcceptedOnceTheSocketListens) {
  // The "backend" is this test: a socket bound at the path before start.
  std::string socket = dir_ + "/b.sock";
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  Start({"sleep", "30"});
  // Start removed any stale file; listen only now.
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", socket.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  ASSERT_TRUE(WaitFor([](auto& s) { return s.state() == node::v1::BACKEND_STATE_RUNNING; }));
  RunSync([&] { EXPECT_EQ(ready_, std::vector<std::string>{"root.b: accepted"}); });
  ::close(fd);
}

TEST_F(BackendSupervisorTest, StopAllKillsABackendIgnoringSigtermAfterTheGrace) {
  std::string trapped = dir_ + "/trapped";
  Start({"sh", "-c", "trap '' TERM; touch " + trapped + "; while :; do sleep 0.01; done"});
  // SIGTERM only once the trap is set.
  ASSERT_TRUE(WaitFor([&](auto& s) { return s.pid() > 0 && fs::exists(trapped); }));
  pid_t pid = Status().pid();
  auto begun = std::chrono::steady_clock::now();
  RunSync([&] { supervisor_->StopAll(); });
  // Not before the grace (less a little: the runtime's timer may round the
  // deadline down to its tick).
  EXPECT_GE(std::chrono::steady_clock::now() - begun,
            policy_.stop_grace - std::chrono::milliseconds(10));
  EXPECT_EQ(::kill(pid, 0), -1) << "reaped";
  node::v1::BackendStatus status = Status();
  EXPECT_EQ(status.state(), node::v1::BACKEND_STATE_STOPPED);
  EXPECT_EQ(status.last_exit(), "killed by signal 9 (Killed)");
}

TEST_F(BackendSupervisorTest, StopAllEndsABackendThatHonoursSigtermAtOnce) {
  Start({"sleep", "30"});
  ASSERT_TRUE(WaitFor([](auto& s) { return s.pid() > 0; }));
  RunSync([&] { supervisor_->StopAll(); });
  // SIGTERM ended it: no SIGKILL after the grace.
  EXPECT_EQ(Status().last_exit(), "killed by signal 15 (Terminated)");
  EXPECT_FALSE(fs::exists(dir_ + "/b.sock"));
}

}  // namespace
}  // namespace trellis::manager
