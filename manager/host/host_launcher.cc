#include "manager/host/host_launcher.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "manager/process/child_process.h"
#include "runtime/host/driver_host.h"

namespace trellis::manager {

Result<LaunchedHost> ProcessLauncher::Launch(const LaunchRequest& request) {
  // The child sees the two sockets as fds 3 and 4.
  // Its stderr is a pipe the manager reads into its log (blocking on the
  // host's side: a slow reader delays the host's logging, never loses it).
  int log[2];
  if (pipe2(log, O_CLOEXEC) != 0) {
    int err = errno;
    close(request.control_fd);
    close(request.manager_fd);
    return FailErrno(err, "pipe for host " + request.host_id + "'s log");
  }
  fcntl(log[0], F_SETFL, O_NONBLOCK);
  SpawnOptions spawn{.argv = {host_binary_, "--host-id", request.host_id, "--control-fd", "3",
                              "--manager-fd", "4"},
                     .fds = {{request.control_fd, 3}, {request.manager_fd, 4}, {log[1], 2}}};
  if (!request.client_socket.empty()) {
    spawn.argv.push_back("--socket");
    spawn.argv.push_back(request.client_socket);
  }
  auto child = ChildProcess::Spawn(spawn);
  close(request.control_fd);
  close(request.manager_fd);
  close(log[1]);
  if (!child) {
    close(log[0]);
    return Fail(child.error().WithContext("host " + request.host_id));
  }
  pid_t pid = child->pid();
  return LaunchedHost{.pid = pid, .exit_fd = child->release_pidfd(), .log_fd = log[0]};
}

std::string ProcessLauncher::Reap(const LaunchedHost& host) {
  int status = 0;
  pid_t r = waitpid(host.pid, &status, WNOHANG);
  if (r != host.pid) return "ended (status unknown)";
  return DescribeWaitStatus(status);
}

void ProcessLauncher::Kill(const LaunchedHost& host) { SignalPidfd(host.exit_fd, SIGKILL); }

struct ThreadLauncher::Running {
  std::thread thread;
  Mutex mu;
  host::DriverHost* host TRELLIS_GUARDED_BY(mu) = nullptr;
  std::string outcome;
};

ThreadLauncher::~ThreadLauncher() {
  std::map<int, std::shared_ptr<Running>> running;
  {
    MutexLock lock(mu_);
    running.swap(running_);
  }
  for (auto& [fd, r] : running) {
    {
      MutexLock lock(r->mu);
      if (r->host != nullptr) r->host->RequestShutdown();
    }
    if (r->thread.joinable()) r->thread.join();
  }
}

Result<LaunchedHost> ThreadLauncher::Launch(const LaunchRequest& request) {
  int exit_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (exit_fd < 0) return FailErrno(errno, "eventfd for host " + request.host_id);
  auto running = std::make_shared<Running>();
  running->thread = std::thread([running, request, exit_fd] {
    host::DriverHostOptions options{.host_id = request.host_id,
                                    .client_socket = request.client_socket};
    auto host = host::DriverHost::Start(options, request.control_fd, request.manager_fd);
    if (host) {
      {
        MutexLock lock(running->mu);
        running->host = host->get();
      }
      (*host)->Wait();
      {
        MutexLock lock(running->mu);
        running->host = nullptr;
      }
      host->reset();
      running->outcome = "exited with status 0";
    } else {
      running->outcome = "failed to start: " + host.error().ToString();
    }
    uint64_t one = 1;
    (void)!write(exit_fd, &one, sizeof(one));
  });
  {
    MutexLock lock(mu_);
    running_[exit_fd] = running;
  }
  return LaunchedHost{.pid = -1, .exit_fd = exit_fd};
}

std::string ThreadLauncher::Reap(const LaunchedHost& host) {
  std::shared_ptr<Running> running;
  {
    MutexLock lock(mu_);
    auto it = running_.find(host.exit_fd);
    if (it == running_.end()) return "ended";
    running = it->second;
    running_.erase(it);
  }
  if (running->thread.joinable()) running->thread.join();
  return running->outcome;
}

void ThreadLauncher::Kill(const LaunchedHost& host) {
  MutexLock lock(mu_);
  auto it = running_.find(host.exit_fd);
  if (it == running_.end()) return;
  MutexLock host_lock(it->second->mu);
  if (it->second->host != nullptr) it->second->host->RequestShutdown();
}

}  // namespace trellis::manager
