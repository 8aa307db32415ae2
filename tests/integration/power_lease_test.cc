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

#include "tests/integration/testing/power_fixture.h"

extern char** environ;

namespace trellis::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using power::v1::SuspendResponse;
using power::v1::SYSTEM_STATE_SUSPENDED;
using Clock = std::chrono::steady_clock;

std::string ReadFile(const fs::path& path) {
  std::stringstream text;
  text << std::ifstream(path).rdbuf();
  return text.str();
}

// A powerctl process, leader of a process group of its own so that the
// command it runs can be found and killed with it. Its stdout and stderr go
// to files. Dropping it SIGKILLs the group and reaps powerctl. Move-only.
class PowerctlProcess {
 public:
  // Starts powerctl with `args`. Errors: from posix_spawn.
  static Result<PowerctlProcess> Start(const std::vector<std::string>& args, fs::path out,
                                       fs::path err) {
    std::vector<std::string> argv = {TRELLIS_POWERCTL_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> pointers;
    for (const std::string& arg : argv) pointers.push_back(const_cast<char*>(arg.c_str()));
    pointers.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);  // A new group led by powerctl.
    pid_t pid = -1;
    int spawned = posix_spawn(&pid, pointers[0], &actions, &attr, pointers.data(), environ);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
    if (spawned != 0) return FailErrno(spawned, std::string("cannot run ") + argv[0]);
    return PowerctlProcess(pid, std::move(out), std::move(err));
  }

  PowerctlProcess(PowerctlProcess&& other) noexcept
      : pid_(std::exchange(other.pid_, -1)),
        status_(other.status_),
        out_(std::move(other.out_)),
        err_(std::move(other.err_)) {}
  PowerctlProcess& operator=(PowerctlProcess&&) = delete;
  ~PowerctlProcess() {
    if (pid_ < 0) return;
    kill(-pid_, SIGKILL);
    if (!status_) {
      int status = 0;
      while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
    }
  }

  pid_t pid() const { return pid_; }
  std::string out() const { return ReadFile(out_); }
  std::string err() const { return ReadFile(err_); }

  // The raw wait status (see WIFEXITED) if powerctl has exited, reaping it;
  // nullopt while it runs. Never blocks.
  std::optional<int> TryWait() {
    if (!status_) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) status_ = status;
    }
    return status_;
  }
  // TryWait until it reports an exit or `timeout` passes. May block.
  std::optional<int> WaitForExit(std::chrono::milliseconds timeout) {
    PollUntil([&] { return TryWait().has_value(); }, Clock::now() + timeout);
    return status_;
  }

  // The live processes of its group other than powerctl: the command it
  // runs (and that command's children).
  std::vector<pid_t> Command() const {
    std::vector<pid_t> pids;
    DIR* proc = opendir("/proc");
    if (proc == nullptr) return pids;
    while (dirent* entry = readdir(proc)) {
      char* end = nullptr;
      long pid = std::strtol(entry->d_name, &end, 10);
      if (*end != '\0' || pid <= 0 || pid == pid_) continue;
      // "pid (comm) state ppid pgrp ...": comm may hold spaces and parens.
      std::string stat = ReadFile(fs::path("/proc") / entry->d_name / "stat");
      size_t paren = stat.rfind(')');
      if (paren == std::string::npos) continue;
      std::istringstream fields(stat.substr(paren + 1));
      char state = 0;
      long ppid = 0;
      long pgrp = 0;
      // Only the command itself: an ASan-built powerctl's exit-time leak
      // checker runs as a cloned task in the same process group.
      std::string comm = stat.substr(stat.find('(') + 1, paren - stat.find('(') - 1);
      if (fields >> state >> ppid >> pgrp && pgrp == pid_ && state != 'Z' && comm == "sleep") {
        pids.push_back(static_cast<pid_t>(pid));
      }
    }
    closedir(proc);
    return pids;
  }

 private:
  PowerctlProcess(pid_t pid, fs::path out, fs::path err)
      : pid_(pid), out_(std::move(out)), err_(std::move(err)) {}

  pid_t pid_ = -1;
  std::optional<int> status_;
  fs::path out_;
  fs::path err_;
};

// "exited 0", "killed by signal 9", ...
std::string Describe(std::optional<int> status) {
  if (!status) return "still running";
  if (WIFEXITED(*status)) return "exited " + std::to_string(WEXITSTATUS(*status));
  if (WIFSIGNALED(*status)) return "killed by signal " + std::to_string(WTERMSIG(*status));
  return "wait status " + std::to_string(*status);
}

class PowerLeaseTest : public PowerFixture {
 protected:
  // Two hosts of probes that log to log().
  void StartProbes() {
    StartPowerManager(Board(ProbeNode("a", "trellis,probe-a", 1, 2, LogProperty()) + "," +
                            ProbeNode("b", "trellis,probe-b", 0, 0, LogProperty())),
                      {{"probe-a.json", ProbeManifest("probe-a", "trellis,probe-a", "a")},
                       {"probe-b.json", ProbeManifest("probe-b", "trellis,probe-b", "b")}});
    ASSERT_TRUE(WaitUntil([&] { return BoundNodes("probe").size() == 4; }));
  }

  // powerctl --endpoint <the manager> `args`, output in the temp dir.
  std::optional<PowerctlProcess> StartPowerctl(std::vector<std::string> args) {
    args.insert(args.begin(), {"--endpoint", manager_->endpoint()});
    std::string n = std::to_string(++started_);
    auto process = PowerctlProcess::Start(args, dir_.path() / ("powerctl-" + n + ".out"),
                                          dir_.path() / ("powerctl-" + n + ".err"));
    EXPECT_TRUE(process.has_value()) << process.error().ToString();
    if (!process) return std::nullopt;
    return std::move(*process);
  }

  std::optional<power::v1::WakeLeaseInfo> FindLease(const std::string& name) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 10s);
    power::v1::ListLeasesResponse response;
    grpc::Status status = power().ListLeases(&context, {}, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    for (const auto& lease : response.leases()) {
      if (lease.name() == name) return lease;
    }
    return std::nullopt;
  }

  // Waits until the lease `name` of `powerctl` is listed and its command
  // runs; fails the test if powerctl exits first.
  std::optional<power::v1::WakeLeaseInfo> AwaitLeaseAndCommand(const std::string& name,
                                                               PowerctlProcess& powerctl) {
    std::optional<power::v1::WakeLeaseInfo> lease;
    bool ready = PollUntil(
        [&] {
          if (powerctl.TryWait()) return true;
          if (!lease) lease = FindLease(name);
          return lease && !powerctl.Command().empty();
        },
        Clock::now() + 10s);
    EXPECT_TRUE(ready && !powerctl.TryWait())
        << "powerctl " << Describe(powerctl.TryWait()) << "; lease " << name
        << (lease ? " listed" : " not listed") << "; stderr: " << powerctl.err();
    return ready && !powerctl.TryWait() ? lease : std::nullopt;
  }

 private:
  int started_ = 0;
};

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
