// HostLauncher: starts driver hosts. ProcessLauncher spawns trellis-host with
// posix_spawn; ThreadLauncher runs the same DriverHost code on a thread, for
// tests and benchmarks. Either way the manager watches `exit_fd`, which
// becomes readable when the host ends (a pidfd, or an eventfd).
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <thread>

#include "runtime/error.h"
#include "runtime/mutex.h"

namespace trellis::manager {

struct LaunchRequest {
  std::string host_id;
  int control_fd = -1;  // Host end of the DriverHost socketpair.
  int manager_fd = -1;  // Host end of the NodeChannel socketpair.
  std::string client_socket;
};

struct LaunchedHost {
  pid_t pid = -1;     // -1 for a thread host.
  int exit_fd = -1;   // Readable once the host has ended; owned by the caller.
  // Read end (non-blocking) of the host's stderr, for the manager's log;
  // -1 for a thread host. Owned by the caller.
  int log_fd = -1;
};

class HostLauncher {
 public:
  virtual ~HostLauncher() = default;
  // Starts a host. The launcher closes the request's fds in this process.
  virtual Result<LaunchedHost> Launch(const LaunchRequest& request) = 0;
  // Describes how the host ended, reaping it: "killed by signal 9 (Killed)".
  virtual std::string Reap(const LaunchedHost& host) = 0;
  // Kills a host at once (SIGKILL), e.g. after a missed deadline.
  virtual void Kill(const LaunchedHost& host) = 0;
};

class ProcessLauncher final : public HostLauncher {
 public:
  explicit ProcessLauncher(std::string host_binary) : host_binary_(std::move(host_binary)) {}
  Result<LaunchedHost> Launch(const LaunchRequest& request) override;
  std::string Reap(const LaunchedHost& host) override;
  void Kill(const LaunchedHost& host) override;

 private:
  std::string host_binary_;
};

class ThreadLauncher final : public HostLauncher {
 public:
  ~ThreadLauncher() override;
  Result<LaunchedHost> Launch(const LaunchRequest& request) override;
  std::string Reap(const LaunchedHost& host) override;
  // Threads cannot be killed: asks the host to shut down instead.
  void Kill(const LaunchedHost& host) override;

 private:
  struct Running;
  Mutex mu_;
  std::map<int, std::shared_ptr<Running>> running_ TRELLIS_GUARDED_BY(mu_);  // By exit_fd.
};

}  // namespace trellis::manager
