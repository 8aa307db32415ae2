// Suspend/resume endurance against the real manager and trellis-host
// processes: hundreds of cycles with client wake leases taken and dropped at
// random points, timer or Power.Resume wakes, and in 1% of the cycles (and
// two fixed ones) a probe host killed (SIGKILL) or stopped for a while
// (SIGSTOP, SIGCONT) at a random moment of the suspend. After every cycle
// the system runs with nothing suspended and every driver bound; at the end
// no process has leaked fds, threads or memory, and only faulted hosts were
// restarted.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "tests/integration/testing/power_fixture.h"

namespace trellis::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using power::v1::SuspendResponse;
using power::v1::SYSTEM_STATE_RUNNING;
using power::v1::SYSTEM_STATE_SUSPENDED;
using Clock = std::chrono::steady_clock;

constexpr int kWarmUpCycles = 20;
constexpr char kResumeReason[] = "endurance";

// What a process holds, from /proc.
struct Usage {
  int fds = -1;
  int threads = -1;
  int64_t rss_kib = -1;
  std::map<std::string, int> thread_names;  // comm → how many, to show what grew.
};

int CountEntries(const fs::path& dir) {
  std::error_code ec;
  int n = 0;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) ++n;
  return ec ? -1 : n;
}

Usage UsageOf(pid_t pid) {
  fs::path proc = fs::path("/proc") / std::to_string(pid);
  Usage usage;
  usage.fds = CountEntries(proc / "fd");
  usage.threads = CountEntries(proc / "task");
  std::error_code ec;
  for (fs::directory_iterator it(proc / "task", ec), end; !ec && it != end; it.increment(ec)) {
    std::string name;
    std::getline(std::ifstream(it->path() / "comm"), name);
    ++usage.thread_names[name];
  }
  std::ifstream status(proc / "status");
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("VmRSS:")) usage.rss_kib = std::strtoll(line.c_str() + 6, nullptr, 10);
  }
  return usage;
}

// Fds and threads may differ by this much: gRPC starts threads lazily (the
// sync server's pollers grow and shrink with load, the timer-manager
// threads start on first use), some with an fd (eventfd, epoll) of their
// own, so a count taken at one instant can be off by one or two without
// anything having leaked.
constexpr int kCountSlack = 2;
// gRPC's executor ("default-executor" threads) also starts threads on
// demand, up to 2 per core, and never stops them: growth of that pool up to
// its cap is not counted.
constexpr char kGrpcExecutorThread[] = "default-executo";  // comm is 15 chars.
int GrpcExecutorCap() {
  return 2 * static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}
constexpr int64_t kManagerRssGrowthKib = 16 * 1024;
constexpr int64_t kHostRssGrowthKib = 8 * 1024;

// One process watched for leaks.
struct Watched {
  std::string name;  // "manager (this process)", "host-1".
  pid_t pid = -1;
  int64_t rss_growth_limit_kib = 0;
  Usage before;
};

int Count(const std::map<std::string, int>& names, const std::string& name) {
  auto it = names.find(name);
  return it == names.end() ? 0 : it->second;
}

// ASan keeps freed memory in a quarantine (up to 256 MiB), so RSS says
// nothing about leaks there; LeakSanitizer checks those at exit instead.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kCheckRss = false;
#else
constexpr bool kCheckRss = true;
#endif

bool WithinLimits(const Watched& w, const Usage& after) {
  int executor_growth = std::clamp(Count(after.thread_names, kGrpcExecutorThread) -
                                       Count(w.before.thread_names, kGrpcExecutorThread),
                                   0, GrpcExecutorCap());
  int threads = after.threads - executor_growth;
  return after.fds >= 0 && std::abs(after.fds - w.before.fds) <= kCountSlack &&
         after.threads >= 0 && std::abs(threads - w.before.threads) <= kCountSlack &&
         (!kCheckRss ||
          (after.rss_kib >= 0 && after.rss_kib - w.before.rss_kib < w.rss_growth_limit_kib));
}

std::string Compare(const Watched& w, const Usage& after) {
  std::ostringstream text;
  text << w.name << " (pid " << w.pid << "): fds " << w.before.fds << " -> " << after.fds
       << ", threads " << w.before.threads << " -> " << after.threads << ", VmRSS "
       << w.before.rss_kib << " -> " << after.rss_kib << " kB (limit +" << w.rss_growth_limit_kib
       << " kB)";
  std::string names;
  for (const auto& [name, n] : after.thread_names) {
    int was = Count(w.before.thread_names, name);
    if (n != was) names += " " + name + " " + std::to_string(was) + "->" + std::to_string(n);
  }
  for (const auto& [name, n] : w.before.thread_names) {
    if (!after.thread_names.contains(name)) names += " " + name + " " + std::to_string(n) + "->0";
  }
  if (!names.empty()) text << "; threads by name:" << names;
  return text.str();
}

// When a cycle's client lease is taken and dropped.
enum class Take {
  kDroppedBefore,  // Taken and dropped before the suspend: no effect.
  kBlocking,       // Held when the suspend arrives; see Blocked.
  kDuring,         // Taken while the suspend runs, dropped soon after.
};

// What the cycle does with its kBlocking leases.
enum class Blocked {
  kRefused,    // A suspend without a wait is refused; dropped; then the cycle's suspend.
  kTimedOut,   // A suspend with a 5 ms wait gives up; dropped; then the cycle's suspend.
  kWaitedFor,  // The cycle's suspend waits for them; dropped a moment after it starts.
};

// What happens to a probe host during the cycle's suspend.
enum class HostFault { kNone, kKill, kStop };

struct Cycle {
  int index = 0;
  HostFault fault = HostFault::kNone;
  std::string fault_group;                      // "a" or "b".
  std::chrono::microseconds fault_after{0};     // After the suspend starts.
  std::chrono::milliseconds stop_for{0};        // kStop.
  std::vector<Take> leases;  // 0 to 2.
  Blocked blocked = Blocked::kRefused;
  std::chrono::microseconds release_after{0};  // kWaitedFor.
  std::chrono::microseconds take_after{0};     // kDuring: after the suspend starts.
  std::chrono::microseconds hold_for{0};       // kDuring.
  int wake_after_ms = 0;                       // 0: woken by Power.Resume.

  bool Has(Take take) const {
    return std::find(leases.begin(), leases.end(), take) != leases.end();
  }
  bool Waits() const { return Has(Take::kBlocking) && blocked == Blocked::kWaitedFor; }

  std::string LeaseName(size_t i) const {
    return "c" + std::to_string(index) + "-" + std::to_string(i);
  }

  std::string Describe() const {
    static const char* const kTakes[] = {"dropped-before", "blocking", "during"};
    static const char* const kBlocked[] = {"refused", "timed-out", "waited-for"};
    std::string text = "cycle " + std::to_string(index) + " (leases:";
    for (Take take : leases) text += std::string(" ") + kTakes[static_cast<int>(take)];
    if (Has(Take::kBlocking)) {
      text += std::string("; blocking ") + kBlocked[static_cast<int>(blocked)];
    }
    if (Has(Take::kDuring)) {
      text += "; during after " + std::to_string(take_after.count()) + " us";
    }
    if (fault != HostFault::kNone) {
      text += std::string(fault == HostFault::kKill ? "; SIGKILL" : "; SIGSTOP") + " host of " +
              fault_group + " after " + std::to_string(fault_after.count()) + " us";
      if (fault == HostFault::kStop) text += " for " + std::to_string(stop_for.count()) + " ms";
    }
    text += wake_after_ms > 0 ? "; alarm " + std::to_string(wake_after_ms) + " ms)"
                              : "; Power.Resume)";
    return text;
  }
};

Cycle Plan(int index, std::mt19937_64& rng, std::chrono::microseconds span) {
  auto below = [&](uint64_t n) { return rng() % n; };
  Cycle c;
  c.index = index;
  for (uint64_t i = 0, n = below(3); i < n; ++i) c.leases.push_back(static_cast<Take>(below(3)));
  c.blocked = static_cast<Blocked>(below(3));
  c.release_after = std::chrono::microseconds(below(5000));
  c.take_after = std::chrono::microseconds(below(static_cast<uint64_t>(span.count()) * 2 + 1));
  c.hold_for = std::chrono::microseconds(below(2000));
  c.wake_after_ms = below(3) == 0 ? 0 : 1 + static_cast<int>(below(5));
  // 1% of the cycles, and one of each kind at fixed cycles so that even a
  // short run has both.
  uint64_t roll = below(200);
  if (roll == 0 || index == 50) c.fault = HostFault::kKill;
  if (roll == 1 || index == 120) c.fault = HostFault::kStop;
  c.fault_group = below(2) == 0 ? "a" : "b";
  c.fault_after = std::chrono::microseconds(below(static_cast<uint64_t>(span.count()) * 2 + 1));
  // Around the probes' 500 ms hook deadline: a stop past it makes the
  // governor kill the host as hung.
  c.stop_for = std::chrono::milliseconds(1 + below(800));
  return c;
}

// How the cycles ended, to check against Power.Stats.
struct Tally {
  uint64_t resumed = 0;
  uint64_t aborted_by_lease = 0;
  uint64_t aborted_by_alarm = 0;  // The alarm fired before the commit.
  uint64_t refused = 0;      // By a blocking lease, before the cycle's suspend.
  uint64_t timed_out = 0;    // Likewise, after a 5 ms wait.
  uint64_t lease_first = 0;  // The cycle's suspend, refused by a kDuring lease.
  uint64_t failed = 0;       // OUTCOME_FAILED_*: only in host-fault cycles.
  uint64_t kills = 0;
  uint64_t stops = 0;
};

class PowerEnduranceTest : public PowerFixture {
 protected:
  std::vector<power::v1::WakeLeaseInfo> Leases() {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 10s);
    power::v1::ListLeasesResponse response;
    grpc::Status status = power().ListLeases(&context, {}, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return {response.leases().begin(), response.leases().end()};
  }
  bool AwaitLeaseGone(const std::string& name) {
    return PollUntil(
        [&] {
          for (const auto& lease : Leases()) {
            if (lease.name() == name) return false;
          }
          return true;
        },
        Clock::now() + 5s);
  }
  bool AwaitNoLeases() {
    return PollUntil([&] { return Leases().empty(); }, Clock::now() + 5s);
  }

  std::vector<host::v1::HostInfo> Hosts() {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 10s);
    manager::v1::ListHostsResponse response;
    grpc::Status status = stub().ListHosts(&context, {}, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return {response.hosts().begin(), response.hosts().end()};
  }

  // Suspends and resumes once; returns how long the suspend took.
  std::chrono::microseconds MeasureSuspend() {
    auto suspended = SuspendAsync();
    EXPECT_TRUE(AwaitPowerState(SYSTEM_STATE_SUSPENDED));
    EXPECT_TRUE(Resume(kResumeReason).ok());
    auto [status, response] = suspended.get();
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.outcome(), SuspendResponse::OUTCOME_RESUMED) << response.error();
    return std::max(100us, std::chrono::microseconds(response.suspend_took().seconds() * 1'000'000 +
                                                     response.suspend_took().nanos() / 1000));
  }

  void RunCycle(const Cycle& c, Tally& tally) {
    const std::string what = c.Describe();
    std::vector<std::unique_ptr<ClientLease>> blocking;
    std::vector<std::string> blocking_names;
    for (size_t i = 0; i < c.leases.size(); ++i) {
      if (c.leases[i] == Take::kDuring) continue;
      auto lease = std::make_unique<ClientLease>(power(), c.LeaseName(i));
      ASSERT_TRUE(lease->granted()) << what;
      if (c.leases[i] == Take::kDroppedBefore) {
        lease->Release();
        // Dropped once the manager no longer lists it.
        ASSERT_TRUE(AwaitLeaseGone(c.LeaseName(i))) << what;
      } else {
        blocking.push_back(std::move(lease));
        blocking_names.push_back(c.LeaseName(i));
      }
    }

    power::v1::SuspendRequest request;
    if (c.wake_after_ms > 0) request.mutable_wake_after()->set_nanos(c.wake_after_ms * 1'000'000);
    if (!blocking.empty() && !c.Waits()) {
      // The leases are held when the suspend arrives.
      power::v1::SuspendRequest early = request;
      if (c.blocked == Blocked::kTimedOut) early.mutable_wait()->set_nanos(5'000'000);
      auto [status, unused] = SuspendAsync(early).get();
      EXPECT_EQ(status.error_code(), c.blocked == Blocked::kRefused
                                         ? grpc::StatusCode::FAILED_PRECONDITION
                                         : grpc::StatusCode::DEADLINE_EXCEEDED)
          << what << ": " << status.error_message();
      for (const std::string& name : blocking_names) {
        EXPECT_NE(status.error_message().find("'" + name + "'"), std::string::npos)
            << what << ": " << status.error_message();
      }
      ++(c.blocked == Blocked::kRefused ? tally.refused : tally.timed_out);
      EXPECT_EQ(Status().state(), SYSTEM_STATE_RUNNING) << what;
      blocking.clear();
      ASSERT_TRUE(AwaitNoLeases()) << what;
    }
    if (!blocking.empty()) request.mutable_wait()->set_seconds(1);

    auto suspended = SuspendAsync(request);
    std::jthread faulter;
    pid_t faulted_pid = 0;
    if (c.fault != HostFault::kNone) {
      pid_t& pid = faulted_pid;
      for (const auto& host : Hosts()) {
        if (host.colocation_group() == c.fault_group) pid = static_cast<pid_t>(host.pid());
      }
      EXPECT_GT(pid, 0) << what << ": no host for group " << c.fault_group;
      faulted_groups_.insert(c.fault_group);
      ++(c.fault == HostFault::kKill ? tally.kills : tally.stops);
      faulter = std::jthread([pid, c] {
        if (pid <= 0) return;
        std::this_thread::sleep_for(c.fault_after);
        if (c.fault == HostFault::kKill) {
          kill(pid, SIGKILL);
          return;
        }
        kill(pid, SIGSTOP);
        std::this_thread::sleep_for(c.stop_for);
        kill(pid, SIGCONT);  // A no-op if the governor killed it meanwhile.
      });
    }
    // Joined before `blocking` goes, also when an assertion returns early.
    std::jthread releaser;
    if (!blocking.empty()) {
      releaser = std::jthread([&blocking, delay = c.release_after] {
        std::this_thread::sleep_for(delay);
        for (auto& lease : blocking) lease->Release();
      });
    }
    if (c.Has(Take::kDuring)) {
      std::this_thread::sleep_for(c.take_after);
      std::vector<std::unique_ptr<ClientLease>> during;
      for (size_t i = 0; i < c.leases.size(); ++i) {
        if (c.leases[i] != Take::kDuring) continue;
        during.push_back(std::make_unique<ClientLease>(power(), c.LeaseName(i)));
        ASSERT_TRUE(during.back()->granted()) << what;
      }
      std::this_thread::sleep_for(c.hold_for);
    }
    if (c.wake_after_ms == 0) {
      // Woken by Power.Resume once suspended, unless a lease woke it first.
      PollUntil(
          [&] {
            if (suspended.wait_for(0s) == std::future_status::ready) return true;
            if (Status().state() == SYSTEM_STATE_SUSPENDED) {
              EXPECT_TRUE(Resume(kResumeReason).ok()) << what;
            }
            return false;
          },
          Clock::now() + 20s);
    }
    ASSERT_EQ(suspended.wait_for(20s), std::future_status::ready) << what << ": still suspended";
    auto [status, response] = suspended.get();
    last_outcome_ = status.ok() ? SuspendResponse::Outcome_Name(response.outcome()) + " (" +
                                      response.wake_reason() + response.error() + ")"
                                : "refused: " + status.error_message();

    if (!status.ok()) {
      // Only a kDuring lease taken before the suspend arrived can refuse it.
      ASSERT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
          << what << ": " << status.error_message();
      EXPECT_TRUE(c.Has(Take::kDuring) && !request.has_wait()) << what << ": "
                                                               << status.error_message();
      EXPECT_NE(status.error_message().find("wake lease"), std::string::npos)
          << what << ": " << status.error_message();
      ++tally.lease_first;
    } else if (response.outcome() == SuspendResponse::OUTCOME_FAILED_SUSPEND ||
               response.outcome() == SuspendResponse::OUTCOME_FAILED_RESUME) {
      // A killed host, or one stopped past its hook deadline, fails the
      // hook of one of its drivers; everything else is rolled back.
      EXPECT_NE(c.fault, HostFault::kNone) << what << ": " << response.error();
      EXPECT_NE(response.failed_driver().find("probe-" + c.fault_group), std::string::npos)
          << what << ": " << response.failed_driver() << ": " << response.error();
      ++tally.failed;
    } else if (response.outcome() == SuspendResponse::OUTCOME_ABORTED_BY_LEASE) {
      EXPECT_TRUE(c.Has(Take::kDuring)) << what << ": " << response.error();
      ++tally.aborted_by_lease;
    } else if (response.outcome() == SuspendResponse::OUTCOME_ABORTED_BY_WAKE) {
      // The alarm is armed before the commit and counts from then: a wake
      // after of a few ms can fire before the commit and abort the suspend,
      // as a wake event during suspend entry does (Linux's
      // pm_wakeup_pending). Only this cycle's alarm may do that: in a cycle
      // without one, it is an alarm an earlier cycle left armed.
      EXPECT_TRUE(c.wake_after_ms > 0 && response.wake_node_path() == "root.sys.alarm")
          << what << ": " << response.error();
      ++tally.aborted_by_alarm;
    } else {
      ASSERT_EQ(response.outcome(), SuspendResponse::OUTCOME_RESUMED)
          << what << ": " << SuspendResponse::Outcome_Name(response.outcome()) << " "
          << response.error();
      ++tally.resumed;
      bool by_timer = c.wake_after_ms > 0 ? response.wake_driver() == "alarm"
                                          : response.wake_reason() == kResumeReason;
      bool by_lease = c.Has(Take::kDuring) &&
                      response.wake_reason().find("wake lease") != std::string::npos;
      EXPECT_TRUE(by_timer || by_lease)
          << what << ": woken by '" << response.wake_reason() << "' (" << response.wake_driver()
          << ")";
    }
    releaser = {};  // Joins.
    faulter = {};
    ASSERT_TRUE(AwaitNoLeases()) << what;
    if (c.fault != HostFault::kNone) {
      // A killed host restarts and its drivers start again ("start" resets
      // their balance in the log); wait for all of them. The kill may land
      // after this cycle's suspend ended: first wait for the manager to see
      // it (a new pid), or the next cycle would meet a dead host.
      if (c.fault == HostFault::kKill && faulted_pid > 0) {
        ASSERT_TRUE(WaitUntil([&] {
          for (const auto& host : Hosts()) {
            if (host.colocation_group() == c.fault_group) {
              return host.pid() != 0 && static_cast<pid_t>(host.pid()) != faulted_pid &&
                     host.state() == host::v1::HOST_STATE_RUNNING;
            }
          }
          return false;
        })) << what << ": the killed host did not come back";
      }
      ASSERT_TRUE(WaitUntil([&] {
        if (BoundNodes("probe").size() != 5) return false;
        for (const auto& [node, n] : Balance()) {
          if (n != 0) return false;
        }
        return true;
      })) << what << ": the probes did not all come back";
    }
    ExpectNothingSuspended(what);
  }

  std::set<std::string> faulted_groups_;  // Colocation groups of hosts faulted.

  std::string last_outcome_;  // Of the last RunCycle's suspend.
};

TEST_F(PowerEnduranceTest, CyclesWithLeaseChurnLeaveNothingSuspendedAndLeakNothing) {
  StartPowerManager(Board(ProbeNode("a", "trellis,probe-a", 1, 2, LogProperty()) + "," +
                          ProbeNode("b", "trellis,probe-b", 1, 1, LogProperty()) + "," +
                          AlarmNode()),
                    {{"probe-a.json", ProbeManifest("probe-a", "trellis,probe-a", "a")},
                     {"probe-b.json", ProbeManifest("probe-b", "trellis,probe-b", "b")},
                     {"alarm.json", AlarmManifest()}});
  ASSERT_TRUE(WaitForNodeState("root.sys.alarm", node::v1::NODE_STATE_BOUND));
  ASSERT_TRUE(WaitUntil([&] { return BoundNodes("probe").size() == 5; }));
  // How long a suspend takes here, so kDuring leases spread over all of it.
  const auto span = MeasureSuspend();
  ASSERT_FALSE(HasFailure());

  const int cycles = LongTests() ? 10'000 : 1'000;
  std::mt19937_64 rng(20260311);
  Tally tally;
  tally.resumed = 1;  // MeasureSuspend's.
  std::vector<Watched> watched;
  std::vector<host::v1::HostInfo> hosts_before;
  std::string previous = "the first suspend";
  auto started = Clock::now();
  for (int i = 0; i < cycles; ++i) {
    if (i == kWarmUpCycles) {
      watched.push_back({"manager (this process)", getpid(), kManagerRssGrowthKib,
                         UsageOf(getpid())});
      hosts_before = Hosts();
      for (const auto& host : hosts_before) {
        watched.push_back({host.host_id(), static_cast<pid_t>(host.pid()), kHostRssGrowthKib,
                           UsageOf(static_cast<pid_t>(host.pid()))});
      }
    }
    Cycle cycle = Plan(i, rng, span);
    SCOPED_TRACE("after " + previous);
    RunCycle(cycle, tally);
    if (HasFailure()) return;
    previous = cycle.Describe() + " ended " + last_outcome_;
  }
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  std::cout << cycles << " cycles in " << took.count() << " ms: " << tally.resumed
            << " resumed, " << tally.aborted_by_lease << " aborted by a lease, "
            << tally.aborted_by_alarm << " by the alarm firing before the commit, "
            << tally.lease_first << " refused by a lease taken first, " << tally.refused
            << " refused and " << tally.timed_out << " timed out by a blocking lease; "
            << tally.kills << " host kills and " << tally.stops << " host stops, "
            << tally.failed << " of the suspends failed by them\n";

  // Every kind of ending happened.
  EXPECT_GT(tally.aborted_by_lease, 0u);
  EXPECT_GT(tally.refused, 0u);
  EXPECT_GT(tally.timed_out, 0u);
  grpc::ClientContext context;
  power::v1::StatsResponse stats;
  ASSERT_TRUE(power().Stats(&context, {}, &stats).ok());
  EXPECT_EQ(stats.stats().success(), tally.resumed);
  EXPECT_EQ(stats.stats().aborted_by_lease(), tally.aborted_by_lease);
  EXPECT_EQ(stats.stats().aborted_by_wake(), tally.aborted_by_alarm);
  EXPECT_EQ(stats.stats().fail(), tally.failed) << stats.stats().last_failed_error();
  EXPECT_GT(tally.kills, 0u);
  EXPECT_GT(tally.stops, 0u);

  // Hosts never faulted are the same processes, never restarted; a faulted
  // one was restarted at least once if it was killed.
  std::map<std::string, host::v1::HostInfo> hosts_after;
  for (auto& host : Hosts()) hosts_after[host.host_id()] = host;
  EXPECT_EQ(hosts_after.size(), hosts_before.size());
  for (const auto& before : hosts_before) {
    const auto& after = hosts_after[before.host_id()];
    EXPECT_NE(after.pid(), 0u) << before.host_id();
    if (faulted_groups_.contains(before.colocation_group())) continue;
    EXPECT_EQ(after.pid(), before.pid()) << before.host_id();
    EXPECT_EQ(after.restart_count(), 0u) << before.host_id();
  }
  // No leak. Threads that gRPC parks or retires lazily may still be going:
  // give the counts a moment to settle before judging them.
  // A restarted host is a new process: only the others are judged.
  std::erase_if(watched, [&](const Watched& w) {
    for (const auto& host : hosts_before) {
      if (host.host_id() == w.name) return faulted_groups_.contains(host.colocation_group());
    }
    return false;
  });
  std::vector<Usage> after(watched.size());
  PollUntil(
      [&] {
        bool all = true;
        for (size_t i = 0; i < watched.size(); ++i) {
          after[i] = UsageOf(watched[i].pid);
          all = all && WithinLimits(watched[i], after[i]);
        }
        return all;
      },
      Clock::now() + 3s);
  for (size_t i = 0; i < watched.size(); ++i) {
    EXPECT_TRUE(WithinLimits(watched[i], after[i])) << Compare(watched[i], after[i]);
    std::cout << Compare(watched[i], after[i]) << "\n";
  }
}

}  // namespace
}  // namespace trellis::testing
