// powerctl against the real manager and trellis-host processes: the lease
// of `powerctl lease -- CMD` blocks suspend exactly while CMD runs and goes
// away with powerctl when it is killed; `powerctl suspend` end to end, with
// its --json result and its --trace file.
#include <dirent.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <thread>
#include <utility>

#include "tests/integration/testing/powerctl_fixture.h"

extern char** environ;

namespace trellis::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using power::v1::SuspendResponse;
using power::v1::SYSTEM_STATE_SUSPENDED;
using Clock = std::chrono::steady_clock;
using PowerLeaseTest = PowerctlFixture;


TEST_F(PowerLeaseTest, KilledLeaseHolderReleasesItsLeaseWithinASecond) {
  ASSERT_NO_FATAL_FAILURE(StartProbes());
  auto powerctl = StartPowerctl({"lease", "--name", "holder", "--", "sleep", "1000"});
  ASSERT_TRUE(powerctl);
  auto lease = AwaitLeaseAndCommand("holder", *powerctl);
  ASSERT_TRUE(lease);
  EXPECT_EQ(lease->pid(), static_cast<uint32_t>(powerctl->pid()));
  EXPECT_EQ(lease->holder(), "client");

  // SIGKILL: powerctl gets no chance to close its stream; the kernel
  // closing its socket must be enough.
  ASSERT_EQ(kill(powerctl->pid(), SIGKILL), 0);
  auto killed = Clock::now();
  bool released = PollUntil([&] { return !FindLease("holder"); }, killed + 1s);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - killed);
  ASSERT_TRUE(released) << "the lease of a killed powerctl is still listed after " << took.count()
                        << " ms";
  EXPECT_LT(took, 1s);
  RecordProperty("lease_released_after_kill_ms", static_cast<int>(took.count()));
  EXPECT_TRUE(WIFSIGNALED(*powerctl->WaitForExit(5s)));
  // Its command outlives it: the lease went with powerctl, not with sleep.
  EXPECT_FALSE(powerctl->Command().empty()) << "sleep died with powerctl";

  auto suspended = SuspendAsync();
  ASSERT_TRUE(AwaitPowerState(SYSTEM_STATE_SUSPENDED));
  ASSERT_TRUE(Resume().ok());
  auto [status, response] = suspended.get();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.outcome(), SuspendResponse::OUTCOME_RESUMED) << response.error();
  ExpectNothingSuspended("the suspend after the kill");
  // ~PowerctlProcess kills the orphaned sleep with the group.
}

// A stopped holder is alive: its lease holds (and names it) until its
// --max-hold budget runs out, when the manager revokes it without the
// holder's help; the holder learns it once it runs again.
TEST_F(PowerLeaseTest, AStoppedLeaseHolderBlocksSuspendUntilItsBudgetRevokesIt) {
  ASSERT_NO_FATAL_FAILURE(StartProbes());
  auto powerctl = StartPowerctl(
      {"lease", "--name", "frozen", "--max-hold", "500ms", "--", "sleep", "1000"});
  ASSERT_TRUE(powerctl);
  ASSERT_TRUE(AwaitLeaseAndCommand("frozen", *powerctl));
  ASSERT_EQ(kill(powerctl->pid(), SIGSTOP), 0);

  auto [refused, unused] = SuspendAsync().get();
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(refused.error_message(), ::testing::HasSubstr("'frozen'"));

  ASSERT_TRUE(PollUntil([&] { return !FindLease("frozen"); }, Clock::now() + 5s))
      << "a stopped holder's lease outlived its budget";
  auto suspended = SuspendAsync();
  ASSERT_TRUE(AwaitPowerState(SYSTEM_STATE_SUSPENDED));
  ASSERT_TRUE(Resume().ok());
  EXPECT_EQ(suspended.get().second.outcome(), SuspendResponse::OUTCOME_RESUMED);

  ASSERT_EQ(kill(powerctl->pid(), SIGCONT), 0);
  EXPECT_TRUE(PollUntil([&] { return powerctl->err().find("revoked") != std::string::npos; },
                        Clock::now() + 5s))
      << powerctl->err();
  ExpectNothingSuspended("the suspend after the revocation");
}

// 1,000 clients that cancel their lease stream right after opening it,
// some before and some after the grant: no lease is left behind.
TEST_F(PowerLeaseTest, LeasesCancelledRightAfterOpeningLeaveNothingBehind) {
  ASSERT_NO_FATAL_FAILURE(StartProbes());
  for (int i = 0; i < 1000; ++i) {
    grpc::ClientContext context;
    power::v1::AcquireWakeLeaseRequest request;
    request.set_name("flash-" + std::to_string(i));
    auto reader = power().AcquireWakeLease(&context, request);
    if (i % 2 == 1) {
      power::v1::WakeLeaseEvent first;
      reader->Read(&first);  // The grant, or the end.
    }
    context.TryCancel();
    reader->Finish();
  }
  EXPECT_TRUE(PollUntil(
      [&] {
        grpc::ClientContext context;
        power::v1::ListLeasesResponse leases;
        return power().ListLeases(&context, {}, &leases).ok() && leases.leases().empty();
      },
      Clock::now() + 5s))
      << "leases left behind";
  auto suspended = SuspendAsync();
  ASSERT_TRUE(AwaitPowerState(SYSTEM_STATE_SUSPENDED));
  ASSERT_TRUE(Resume().ok());
  EXPECT_EQ(suspended.get().second.outcome(), SuspendResponse::OUTCOME_RESUMED);
}

TEST_F(PowerLeaseTest, LeaseCommandBlocksSuspendUntilTheCommandExits) {
  ASSERT_NO_FATAL_FAILURE(StartProbes());
  auto powerctl = StartPowerctl({"lease", "--name", "job", "--", "sleep", "1"});
  ASSERT_TRUE(powerctl);
  ASSERT_TRUE(AwaitLeaseAndCommand("job", *powerctl));

  auto [refused, unused] = SuspendAsync().get();
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(refused.error_message().find("'job'"), std::string::npos) << refused.error_message();

  power::v1::SuspendRequest request;
  request.mutable_wait()->set_seconds(30);
  auto waiting = SuspendAsync(request);
  // While sleep runs the suspend neither starts nor completes. Each look
  // checks sleep last: running then, it ran at the earlier looks too.
  std::string early;
  bool suspended = PollUntil(
      [&] {
        bool completed = waiting.wait_for(0s) == std::future_status::ready;
        auto state = Status().state();
        if (!powerctl->Command().empty() && early.empty() &&
            (completed || state != power::v1::SYSTEM_STATE_RUNNING)) {
          early = completed ? "completed" : power::v1::SystemState_Name(state);
        }
        return completed || state == SYSTEM_STATE_SUSPENDED;
      },
      Clock::now() + 20s);
  EXPECT_EQ(early, "") << "the suspend went ahead while sleep ran";
  // Suspended: sleep has exited, as the state was read first. powerctl
  // reaps sleep, closes its lease stream and then exits, so its own exit
  // may trail the lease's release (and so the suspend) by a moment.
  std::vector<pid_t> command = powerctl->Command();
  std::optional<int> exited = powerctl->TryWait();
  ASSERT_TRUE(suspended) << "powerctl " << Describe(exited) << "; " << powerctl->err();
  if (waiting.wait_for(0s) == std::future_status::ready) {
    auto [status, response] = waiting.get();
    FAIL() << "the suspend ended unsuspended: " << status.error_message() << " "
           << SuspendResponse::Outcome_Name(response.outcome()) << " " << response.error();
  }
  EXPECT_TRUE(command.empty()) << "suspended while sleep (pid " << command.front() << ") ran";
  if (!exited) exited = powerctl->WaitForExit(5s);
  EXPECT_TRUE(exited && WIFEXITED(*exited) && WEXITSTATUS(*exited) == 0)
      << "powerctl " << Describe(exited) << "; stderr: " << powerctl->err();

  ASSERT_TRUE(Resume().ok());
  auto [status, response] = waiting.get();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.outcome(), SuspendResponse::OUTCOME_RESUMED) << response.error();
  ExpectNothingSuspended("the waiting suspend");
}

TEST_F(PowerLeaseTest, PowerctlSuspendWakesOnTheAlarmAndWritesAChromeTrace) {
  StartPowerManager(
      Board(ProbeNode("a", "trellis,probe-a", 1, 2, LogProperty()) + "," +
            ProbeNode("b", "trellis,probe-b", 1, 1, LogProperty()) + "," + AlarmNode()),
      {{"probe-a.json", ProbeManifest("probe-a", "trellis,probe-a", "a")},
       {"probe-b.json", ProbeManifest("probe-b", "trellis,probe-b", "b")},
       {"alarm.json", AlarmManifest()}});
  ASSERT_TRUE(WaitForNodeState("root.sys.alarm", node::v1::NODE_STATE_BOUND));
  ASSERT_TRUE(WaitUntil([&] { return BoundNodes("probe").size() == 5; }));
  std::vector<std::string> probes = BoundNodes("probe");

  fs::path trace = dir_.path() / "trace.json";
  auto powerctl =
      StartPowerctl({"--json", "suspend", "--wake-after", "50ms", "--trace", trace.string()});
  ASSERT_TRUE(powerctl);
  auto exited = powerctl->WaitForExit(30s);
  ASSERT_TRUE(exited && WIFEXITED(*exited) && WEXITSTATUS(*exited) == 0)
      << "powerctl " << Describe(exited) << "; stdout: " << powerctl->out()
      << "; stderr: " << powerctl->err();

  auto result = nlohmann::json::parse(powerctl->out(), nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(result.is_object()) << powerctl->out();
  EXPECT_EQ(result.value("outcome", ""), "resumed") << result.dump(2);
  EXPECT_EQ(result.value("wake_driver", ""), "alarm") << result.dump(2);
  EXPECT_EQ(result.value("trace_file", ""), trace.string());
  ASSERT_TRUE(result.contains("timings") && result["timings"].is_array()) << result.dump(2);
  EXPECT_EQ(result["timings"].size(), 2 * probes.size());

  auto document = nlohmann::json::parse(ReadFile(trace), nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(document.is_object() && document.contains("traceEvents")) << ReadFile(trace);
  // One complete ("X") event per callback: each probe suspended and resumed
  // once, OK. The alarm's dispatchers are not power-managed: no callbacks.
  std::map<std::string, std::multiset<std::string>> phases;
  size_t slices = 0;
  for (const auto& event : document["traceEvents"]) {
    if (event.value("ph", "") != "X") continue;
    ++slices;
    const auto& args = event.at("args");
    phases[args.value("node", "")].insert(event.value("cat", ""));
    EXPECT_EQ(args.value("status", ""), "ok") << event.dump();
    EXPECT_TRUE(event.contains("ts") && event.contains("dur")) << event.dump();
  }
  EXPECT_EQ(slices, 2 * probes.size());
  for (const std::string& probe : probes) {
    EXPECT_EQ(phases[probe], (std::multiset<std::string>{"resume", "suspend"})) << probe;
  }
  EXPECT_EQ(document["otherData"].value("outcome", ""), "resumed");
  ExpectNothingSuspended("powerctl suspend");
}

// powerctl suspend --plan names the waves the next suspend takes, and why-not
// names what refuses it.
TEST_F(PowerLeaseTest, ThePlanIsTheOrderTheNextSuspendTakesAndWhyNotNamesALease) {
  StartProbes();  // root.sys.a with children c0 and c1, and root.sys.b.
  auto run = [&](std::vector<std::string> args, int expected_exit) {
    auto powerctl = StartPowerctl(std::move(args));
    EXPECT_TRUE(powerctl);
    if (!powerctl) return std::string();
    auto exited = powerctl->WaitForExit(30s);
    EXPECT_TRUE(exited && WIFEXITED(*exited) && WEXITSTATUS(*exited) == expected_exit)
        << "powerctl " << Describe(exited) << "; stderr: " << powerctl->err();
    return powerctl->out();
  };
  auto plan = nlohmann::json::parse(run({"--json", "suspend", "--plan"}, 0), nullptr, false);
  ASSERT_TRUE(plan.is_object());
  EXPECT_EQ(plan["waves"], 2) << plan.dump(2);
  ASSERT_EQ(plan["steps"].size(), 4u) << plan.dump(2);
  std::map<std::string, std::vector<std::string>> after;
  for (const auto& step : plan["steps"]) {
    after[step["node"]] = step["after"].get<std::vector<std::string>>();
    EXPECT_EQ(step["wave"], step["node"] == "root.sys.a" ? 2 : 1) << step.dump();
  }
  EXPECT_EQ(after["root.sys.a"], (std::vector<std::string>{"root.sys.a.c0", "root.sys.a.c1"}));
  EXPECT_TRUE(plan["obstacles"].empty());
  EXPECT_TRUE(plan["expected_suspend"].is_null()) << "no suspend yet";
  EXPECT_EQ(run({"why-not"}, 0), "nothing: a suspend would start now\n");

  // The suspend that follows: exactly the planned drivers, each after what
  // it waits for.
  auto suspended = SuspendAsync();
  ASSERT_TRUE(AwaitPowerState(power::v1::SYSTEM_STATE_SUSPENDED));
  ASSERT_TRUE(Resume().ok());
  auto [status, response] = suspended.get();
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.outcome(), power::v1::SuspendResponse::OUTCOME_RESUMED);
  std::vector<std::string> order;
  for (const auto& line : ReadLines(log())) {
    if (line.starts_with("suspend ")) order.push_back(line.substr(8));
  }
  ASSERT_EQ(order.size(), after.size());
  auto position = [&](const std::string& node) {
    return std::ranges::find(order, node) - order.begin();
  };
  for (const auto& [node, children] : after) {
    ASSERT_LT(position(node), static_cast<ptrdiff_t>(order.size())) << node << " did not suspend";
    for (const auto& child : children) EXPECT_LT(position(child), position(node)) << child;
  }
  plan = nlohmann::json::parse(run({"--json", "suspend", "--plan"}, 0), nullptr, false);
  EXPECT_EQ(plan["history"], 1);
  EXPECT_TRUE(plan["expected_suspend"].is_number()) << plan.dump(2);

  ClientLease lease(power(), "ota-update");
  ASSERT_TRUE(lease.granted());
  EXPECT_THAT(run({"why-not"}, 1),
              ::testing::MatchesRegex("wake lease [0-9]+ 'ota-update' held by client \\(pid " +
                                      std::to_string(getpid()) + "\\) for [0-9]+ s\n"));
}

// powerctl suspend --test: every driver goes down and comes back, the
// system never sleeps, and it needs no Resume.
TEST_F(PowerLeaseTest, PowerctlSuspendTestRunsThePhasesAndUnwindsByItself) {
  StartProbes();
  for (const std::string phase : {"drivers", "hal"}) {
    const auto logged = static_cast<ptrdiff_t>(ReadLines(log()).size());  // Earlier rounds.
    auto powerctl = StartPowerctl({"--json", "suspend", "--test", phase});
    ASSERT_TRUE(powerctl);
    auto exited = powerctl->WaitForExit(30s);
    ASSERT_TRUE(exited && WIFEXITED(*exited) && WEXITSTATUS(*exited) == 0)
        << phase << ": powerctl " << Describe(exited) << "; stderr: " << powerctl->err();
    auto result = nlohmann::json::parse(powerctl->out(), nullptr, false);
    EXPECT_EQ(result.value("outcome", ""), "tested") << powerctl->out();
    EXPECT_EQ(result.value("wake_reason", ""), "test: " + phase);
    auto lines = ReadLines(log());
    lines.erase(lines.begin(), lines.begin() + std::min(logged, std::ssize(lines)));
    for (const auto& node : BoundNodes("probe")) {
      auto suspended = std::ranges::find(lines, "suspend " + node);
      auto resumed = std::ranges::find(lines, "resume " + node);
      EXPECT_NE(suspended, lines.end()) << phase << ": " << node;
      EXPECT_LT(suspended, resumed) << phase << ": " << node;
    }
    EXPECT_EQ(Status().state(), power::v1::SYSTEM_STATE_RUNNING);
  }
}

}  // namespace
}  // namespace trellis::testing
