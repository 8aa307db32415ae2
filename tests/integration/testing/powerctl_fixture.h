// PowerctlFixture: PowerFixture plus powerctl run as a subprocess
// (PowerctlProcess) against the real manager. Header-only: the including
// test target defines TRELLIS_POWERCTL_BINARY.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "tests/integration/testing/power_fixture.h"

extern char** environ;

namespace trellis::testing {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

inline std::string ReadFile(const fs::path& path) {
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
    PollUntil([&] { return TryWait().has_value(); }, std::chrono::steady_clock::now() + timeout);
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
inline std::string Describe(std::optional<int> status) {
  if (!status) return "still running";
  if (WIFEXITED(*status)) return "exited " + std::to_string(WEXITSTATUS(*status));
  if (WIFSIGNALED(*status)) return "killed by signal " + std::to_string(WTERMSIG(*status));
  return "wait status " + std::to_string(*status);
}

class PowerctlFixture : public PowerFixture {
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
        std::chrono::steady_clock::now() + 10s);
    EXPECT_TRUE(ready && !powerctl.TryWait())
        << "powerctl " << Describe(powerctl.TryWait()) << "; lease " << name
        << (lease ? " listed" : " not listed") << "; stderr: " << powerctl.err();
    return ready && !powerctl.TryWait() ? lease : std::nullopt;
  }

 private:
  int started_ = 0;
};

}  // namespace trellis::testing
