// System suspend/resume against the real manager and trellis-host processes,
// with power-probe drivers that fail or hang on command.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "tests/integration/testing/power_fixture.h"

namespace trellis::testing {
namespace {

using namespace std::chrono_literals;
using power::v1::SuspendResponse;
using power::v1::SYSTEM_STATE_RUNNING;
using power::v1::SYSTEM_STATE_SUSPENDED;

// Index of the first line equal to `line` at or after `from`; -1 if none.
int Find(const std::vector<std::string>& lines, const std::string& line, size_t from = 0) {
  for (size_t i = from; i < lines.size(); ++i) {
    if (lines[i] == line) return static_cast<int>(i);
  }
  return -1;
}

class PowerTest : public PowerFixture {
 protected:
  std::filesystem::path fifo() const { return dir_.path() / "wake.fifo"; }

  // A wake-capable probe at root.sys.waker whose wake vector is the FIFO.
  std::string WakerNode() {
    if (access(fifo().c_str(), F_OK) != 0) mkfifo(fifo().c_str(), 0600);
    return ProbeNode("waker", "trellis,probe-wake", 0, 0,
                     LogProperty() + ", " + StringProperty("probe.wake_fifo", fifo().string()));
  }
  // Fires the waker's wake vector, as an interrupt line would.
  void FireWake() {
    int fd = open(fifo().c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    ASSERT_GE(fd, 0) << "the waker does not hold its FIFO open";
    ASSERT_EQ(write(fd, "w", 1), 1);
    close(fd);
  }

  // Nodes that are not bound, with their state and last error.
  std::string Unbound() {
    std::string text;
    for (const auto& node : Nodes()) {
      if (node.state() == node::v1::NODE_STATE_BOUND || node.path().find('.') == std::string::npos ||
          node.path() == "root.sys") {
        continue;
      }
      text += node.path() + "=" + node::v1::NodeState_Name(node.state()) + " (" +
              node.last_error() + ") ";
    }
    return text;
  }
};

TEST_F(PowerTest, SuspendsChildrenFirstResumesParentsFirstAndRunsTheWakeTaskFirst) {
  StartPowerManager(Board(ProbeNode("tree", "trellis,probe-a", 2, 2, LogProperty()) + "," +
                          WakerNode()),
                    {{"probe-a.json", ProbeManifest("probe-a", "trellis,probe-a", "a")},
                     {"probe-b.json", ProbeManifest("probe-wake", "trellis,probe-wake", "w",
                                                    /*wake_capable=*/true)}});
  ASSERT_TRUE(WaitUntil([&] { return BoundNodes("probe").size() == 8; }));
  power::v1::SuspendRequest request;
  request.set_trace(true);
  auto suspended = SuspendAsync(request);
  ASSERT_TRUE(AwaitPowerState(SYSTEM_STATE_SUSPENDED));

  // A command to the suspended waker queues behind its suspended dispatcher.
  auto queued = std::async(std::launch::async,
                           [&] { return Command("root.sys.waker", kProbePostTask); });
  EXPECT_EQ(queued.wait_for(100ms), std::future_status::timeout) << "the driver was not suspended";
  FireWake();
  auto [status, response] = suspended.get();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.outcome(), SuspendResponse::OUTCOME_RESUMED) << response.error();
  EXPECT_EQ(response.wake_node_path(), "root.sys.waker");
  EXPECT_EQ(response.wake_driver(), "probe-wake");
  ASSERT_TRUE(queued.get().has_value());
  ASSERT_TRUE(Command("root.sys.waker", 0).has_value());  // The queue has drained.

  auto lines = ReadLines(log());
  // Every child before its parent on suspend; every parent before its
  // children on resume.
  for (const std::string& parent : {std::string("root.sys.tree"), std::string("root.sys.tree.c0"),
                                    std::string("root.sys.tree.c1")}) {
    for (const auto& node : Nodes()) {
      if (node.path().rfind(parent + ".", 0) != 0) continue;
      EXPECT_LT(Find(lines, "suspend " + node.path()), Find(lines, "suspend " + parent))
          << node.path();
      EXPECT_GT(Find(lines, "resume " + node.path()), Find(lines, "resume " + parent))
          << node.path();
    }
  }
  // The waker resumed with the wake's lease, then ran its wake task, then
  // the task queued while it was suspended.
  int resumed = Find(lines, "resume-lease root.sys.waker");
  ASSERT_GE(resumed, 0);
  int wake_task = Find(lines, "wake-task root.sys.waker", resumed);
  int task = Find(lines, "task root.sys.waker", resumed);
  ASSERT_GE(wake_task, 0);
  ASSERT_GE(task, 0);
  EXPECT_LT(wake_task, task);
  // One trace slice per callback.
  EXPECT_EQ(response.timings_size(), 16);
  ExpectNothingSuspended("the suspend");
}

TEST_F(PowerTest, EveryDriverFailingInEveryPhaseLeavesNothingSuspended) {
  // 64 drivers in 4 hosts: 4 board nodes with 15 children each.
  std::string board;
  std::map<std::string, std::string> manifests;
  for (int g = 0; g < 4; ++g) {
    std::string compatible = "trellis,probe-g" + std::to_string(g);
    if (g > 0) board += ",";
    board += ProbeNode("g" + std::to_string(g), compatible, 1, 15, LogProperty());
    manifests["probe-g" + std::to_string(g) + ".json"] =
        ProbeManifest("probe-g" + std::to_string(g), compatible, "g" + std::to_string(g),
                      false, /*timeout_ms=*/200);
  }
  // Hung drivers get their hosts killed: restart them without the growing
  // crash-loop backoff, so every case starts from a full tree quickly.
  StartPowerManager(Board(board), manifests, [](manager::ManagerOptions& options) {
    options.max_restart_backoff = std::chrono::milliseconds(20);
  });
  ASSERT_TRUE(WaitUntil([&] { return BoundNodes("probe").size() == 64; }));
  auto drivers = BoundNodes("probe");

  struct Case {
    uint32_t minor;
    ProbeMode mode;
    const char* name;
  };
  std::vector<Case> cases = {{kProbeSuspendMode, kModeFail, "suspend fails"},
                             {kProbeResumeMode, kModeFail, "resume fails"},
                             {kProbeSuspendMode, kModeHang, "suspend hangs"},
                             {kProbeResumeMode, kModeHang, "resume hangs"}};
  uint64_t expected_failures = 0;
  for (const Case& c : cases) {
    bool hang = c.mode == kModeHang;
    for (size_t i = 0; i < drivers.size(); ++i) {
      // A hang kills a host: every 8th driver in CI, all with TRELLIS_LONG_TESTS=1.
      if (hang && !LongTests() && i % 8 != 0) continue;
      const std::string& victim = drivers[i];
      std::string what = std::string(c.name) + " at " + victim;
      std::string host = FindNode(victim)->host();
      pid_t host_pid = HostPid(host);
      ASSERT_TRUE(Command(victim, c.minor, c.mode).has_value()) << what;
      auto suspended = SuspendAsync();
      if (c.minor == kProbeResumeMode) {
        ASSERT_TRUE(AwaitPowerState(SYSTEM_STATE_SUSPENDED)) << what;
        ASSERT_TRUE(Resume().ok());
      }
      auto [status, response] = suspended.get();
      ASSERT_TRUE(status.ok()) << what << ": " << status.error_message();
      EXPECT_EQ(response.outcome(), c.minor == kProbeSuspendMode
                                        ? SuspendResponse::OUTCOME_FAILED_SUSPEND
                                        : SuspendResponse::OUTCOME_FAILED_RESUME)
          << what;
      EXPECT_NE(response.error().find(victim), std::string::npos) << response.error();
      ++expected_failures;
      if (hang) {
        // The victim's host was killed and restarted; wait for its drivers.
        ASSERT_TRUE(WaitUntil([&] {
          pid_t now = HostPid(host);
          return now > 0 && now != host_pid && BoundNodes("probe").size() == 64;
        })) << what << ": host " << host << " pid " << host_pid << " -> " << HostPid(host)
            << ", " << BoundNodes("probe").size() << " bound; " << Unbound();
      } else {
        ASSERT_TRUE(Command(victim, c.minor, kModeOk).has_value()) << what;
      }
      ExpectNothingSuspended(what);
      if (HasFailure()) return;
    }
  }
  grpc::ClientContext context;
  power::v1::StatsResponse stats;
  ASSERT_TRUE(power().Stats(&context, {}, &stats).ok());
  EXPECT_EQ(stats.stats().fail(), expected_failures);
}

TEST_F(PowerTest, LeasesAndWakesAtRandomPointsNeverLoseAWake) {
  StartPowerManager(Board(ProbeNode("a", "trellis,probe-a", 1, 3, LogProperty()) + "," +
                          ProbeNode("b", "trellis,probe-b", 1, 3, LogProperty()) + "," +
                          WakerNode()),
                    {{"probe-a.json", ProbeManifest("probe-a", "trellis,probe-a", "a")},
                     {"probe-b.json", ProbeManifest("probe-b", "trellis,probe-b", "b")},
                     {"probe-w.json", ProbeManifest("probe-wake", "trellis,probe-wake", "w",
                                                    /*wake_capable=*/true)}});
  ASSERT_TRUE(WaitUntil([&] { return BoundNodes("probe").size() == 9; }));

  // How long a suspend takes here, so injections spread over all of it.
  auto probe = SuspendAsync();
  ASSERT_TRUE(AwaitPowerState(SYSTEM_STATE_SUSPENDED));
  ASSERT_TRUE(Resume().ok());
  auto [probe_status, probe_response] = probe.get();
  ASSERT_TRUE(probe_status.ok());
  auto span_us = std::max<int64_t>(
      100, probe_response.suspend_took().seconds() * 1'000'000 +
               probe_response.suspend_took().nanos() / 1000);

  int trials = LongTests() ? 10'000 : 1'000;
  std::mt19937_64 rng(20261124);
  std::map<int, int> outcomes;
  for (int trial = 0; trial < trials; ++trial) {
    bool lease = rng() % 2 == 0;
    auto delay = std::chrono::microseconds(rng() % static_cast<uint64_t>(span_us * 3 / 2));
    // As a suspend client does with /sys/power/wakeup_count: a wake after
    // this read refuses the suspend instead of being slept through.
    power::v1::SuspendRequest request;
    request.set_expected_generation(Status().wake_generation());
    auto suspended = SuspendAsync(request);
    std::this_thread::sleep_for(delay);
    std::optional<ClientLease> held;
    if (lease) {
      held.emplace(power(), "trial-" + std::to_string(trial));
      ASSERT_TRUE(held->granted());
    } else {
      FireWake();
    }
    // The lease or the wake alone must bring the system back: a lost one
    // leaves it suspended and this wait fails.
    ASSERT_EQ(suspended.wait_for(20s), std::future_status::ready)
        << "trial " << trial << ": a " << (lease ? "lease" : "wake") << " after "
        << delay.count() << " us was lost";
    auto [status, response] = suspended.get();
    if (status.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
      // The lease or wake arrived before the suspend began: refused.
      EXPECT_TRUE(status.error_message().find(lease ? "wake lease" : "wake generation") !=
                  std::string::npos)
          << "trial " << trial << ": " << status.error_message();
      ++outcomes[-1];
      status = grpc::Status::OK;
      response.set_outcome(lease ? SuspendResponse::OUTCOME_ABORTED_BY_LEASE
                                 : SuspendResponse::OUTCOME_ABORTED_BY_WAKE);
    }
    ASSERT_TRUE(status.ok()) << "trial " << trial << ": " << status.error_message();
    auto outcome = response.outcome();
    ++outcomes[outcome];
    if (lease) {
      EXPECT_TRUE(outcome == SuspendResponse::OUTCOME_ABORTED_BY_LEASE ||
                  (outcome == SuspendResponse::OUTCOME_RESUMED &&
                   response.wake_reason().find("wake lease") != std::string::npos))
          << "trial " << trial << ": " << SuspendResponse::Outcome_Name(outcome) << " "
          << response.wake_reason() << response.error();
    } else {
      EXPECT_TRUE(outcome == SuspendResponse::OUTCOME_ABORTED_BY_WAKE ||
                  (outcome == SuspendResponse::OUTCOME_RESUMED &&
                   response.wake_node_path() == "root.sys.waker"))
          << "trial " << trial << ": " << SuspendResponse::Outcome_Name(outcome);
      // The waker re-arms in its wake task; a command after it proves it ran.
      ASSERT_TRUE(Command("root.sys.waker", 0).has_value());
    }
    held.reset();
    // Wake leases the manager took for the waker are dropped by it; wait
    // until none is left before the next trial.
    ASSERT_TRUE(WaitUntil([&] { return Status().leases_size() == 0; }, 5s)) << "trial " << trial;
    if (HasFailure()) return;
  }
  ExpectNothingSuspended("the trials");
  // Both sides of the commit were hit.
  EXPECT_GT(outcomes[SuspendResponse::OUTCOME_RESUMED], 0);
  EXPECT_GT(outcomes[SuspendResponse::OUTCOME_ABORTED_BY_LEASE] +
                outcomes[SuspendResponse::OUTCOME_ABORTED_BY_WAKE],
            0);
}

TEST_F(PowerTest, HeldLeaseRefusesSuspendAndNamesItsHolder) {
  StartPowerManager(Board(ProbeNode("p", "trellis,probe-a", 0, 0, LogProperty())),
                    {{"probe-a.json", ProbeManifest("probe-a", "trellis,probe-a", "a")}});
  ASSERT_TRUE(WaitUntil([&] { return BoundNodes("probe").size() == 1; }));
  // A driver's lease.
  ASSERT_TRUE(Command("root.sys.p", kProbeHoldLease, 1).has_value());
  ASSERT_TRUE(WaitUntil([&] { return Status().leases_size() == 1; }));
  auto status = Status();
  EXPECT_EQ(status.leases(0).holder(), "root.sys.p");
  EXPECT_EQ(status.leases(0).name(), "probe-hold");
  EXPECT_GT(status.leases(0).pid(), 0u);
  auto [refused, unused] = SuspendAsync().get();
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(refused.error_message().find("'probe-hold' (root.sys.p, pid "), std::string::npos)
      << refused.error_message();

  // --wait: the suspend starts once the lease is dropped.
  power::v1::SuspendRequest request;
  request.mutable_wait()->set_seconds(30);
  auto waiting = SuspendAsync(request);
  EXPECT_EQ(waiting.wait_for(50ms), std::future_status::timeout);
  ASSERT_TRUE(Command("root.sys.p", kProbeHoldLease, 0).has_value());
  ASSERT_TRUE(AwaitPowerState(SYSTEM_STATE_SUSPENDED));
  ASSERT_TRUE(Resume().ok());
  auto [ok, response] = waiting.get();
  ASSERT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_EQ(response.outcome(), SuspendResponse::OUTCOME_RESUMED);

  // Without --wait, a client lease refuses; a short --wait times out.
  ClientLease lease(power(), "ota-update");
  ASSERT_TRUE(lease.granted());
  request.mutable_wait()->set_seconds(0);
  request.mutable_wait()->set_nanos(20'000'000);
  auto [late, unused2] = SuspendAsync(request).get();
  EXPECT_EQ(late.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_NE(late.error_message().find("'ota-update' (client, pid " + std::to_string(getpid())),
            std::string::npos)
      << late.error_message();
}

TEST_F(PowerTest, AlarmWakesTheSystemAfterTheRequestedDelay) {
  StartPowerManager(Board(ProbeNode("p", "trellis,probe-a", 1, 2, LogProperty()) + "," +
                          AlarmNode()),
                    {{"probe-a.json", ProbeManifest("probe-a", "trellis,probe-a", "a")},
                     {"alarm.json", AlarmManifest()}});
  ASSERT_TRUE(WaitForNodeState("root.sys.alarm", node::v1::NODE_STATE_BOUND));
  ASSERT_TRUE(WaitUntil([&] { return BoundNodes("probe").size() == 3; }));
  power::v1::SuspendRequest request;
  request.mutable_wake_after()->set_nanos(50'000'000);  // 50 ms.
  auto [status, response] = SuspendAsync(request).get();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.outcome(), SuspendResponse::OUTCOME_RESUMED) << response.error();
  EXPECT_EQ(response.wake_driver(), "alarm");
  EXPECT_EQ(response.wake_node_path(), "root.sys.alarm");
  ExpectNothingSuspended("the alarm wake");
}

TEST_F(PowerTest, WakeAfterWithoutAnAlarmDriverFailsAndResumes) {
  StartPowerManager(Board(ProbeNode("p", "trellis,probe-a", 0, 0, LogProperty())),
                    {{"probe-a.json", ProbeManifest("probe-a", "trellis,probe-a", "a")}});
  ASSERT_TRUE(WaitUntil([&] { return BoundNodes("probe").size() == 1; }));
  power::v1::SuspendRequest request;
  request.mutable_wake_after()->set_seconds(1);
  auto [status, response] = SuspendAsync(request).get();
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(response.outcome(), SuspendResponse::OUTCOME_FAILED_SUSPEND);
  EXPECT_NE(response.error().find("alarm"), std::string::npos) << response.error();
  ExpectNothingSuspended("the failed alarm");
}

TEST_F(PowerTest, SysfsHalWritesMemAndResumesWhenTheWriteReturns) {
  std::filesystem::path state = dir_.path() / "power-state";
  std::ofstream(state).close();
  StartPowerManager(Board(ProbeNode("p", "trellis,probe-a", 0, 0, LogProperty())),
                    {{"probe-a.json", ProbeManifest("probe-a", "trellis,probe-a", "a")}},
                    [&](manager::ManagerOptions& options) {
                      options.suspend_hal = "linux-sysfs:" + state.string();
                    });
  ASSERT_TRUE(WaitUntil([&] { return BoundNodes("probe").size() == 1; }));
  auto [status, response] = SuspendAsync().get();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.outcome(), SuspendResponse::OUTCOME_RESUMED) << response.error();
  EXPECT_NE(response.wake_reason().find("resumed"), std::string::npos) << response.wake_reason();
  std::stringstream text;
  text << std::ifstream(state).rdbuf();
  EXPECT_EQ(text.str(), "mem\n");
  ExpectNothingSuspended("the sysfs suspend");
}

}  // namespace
}  // namespace trellis::testing
