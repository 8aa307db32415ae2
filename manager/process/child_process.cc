#include "manager/process/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

extern char** environ;

namespace trellis::manager {

namespace {

// glibc 2.36's <sys/pidfd.h> lacks extern "C", so call the syscalls directly.
int PidfdOpen(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }
int PidfdSendSignal(int pidfd, int sig) {
  return static_cast<int>(syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

// Signals whose disposition the manager may have changed (gRPC and the
// manager's own handlers); the child gets the defaults back.
constexpr int kResetSignals[] = {SIGPIPE, SIGINT,  SIGTERM, SIGHUP, SIGQUIT,
                                 SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM};

}  // namespace

Result<ChildProcess> ChildProcess::Spawn(const SpawnOptions& options) {
  if (options.argv.empty() || options.argv[0].empty()) {
    return Fail(ErrorCode::kInvalidArgument, "no program to spawn");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  int highest = STDERR_FILENO;
  for (auto [from, to] : options.fds) {
    if (from < 0) {
      posix_spawn_file_actions_addopen(&actions, to, "/dev/null", O_RDWR, 0);
    } else {
      posix_spawn_file_actions_adddup2(&actions, from, to);
    }
    highest = std::max(highest, to);
  }
  posix_spawn_file_actions_addclosefrom_np(&actions, highest + 1);

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  short flags = options.reset_signals ? POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF : 0;
  if (options.new_process_group) flags |= POSIX_SPAWN_SETPGROUP;
  posix_spawnattr_setflags(&attr, flags);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigset_t reset;
  sigemptyset(&reset);
  for (int sig : kResetSignals) sigaddset(&reset, sig);
  posix_spawnattr_setsigdefault(&attr, &reset);

  std::vector<std::string> args = options.argv;
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  bool search = args[0].find('/') == std::string::npos;
  int rc = search ? posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), environ)
                  : posix_spawn(&pid, argv[0], &actions, &attr, argv.data(), environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return FailErrno(rc, "spawning " + args[0]);
  int pidfd = PidfdOpen(pid);
  if (pidfd < 0) {
    int err = errno;
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return FailErrno(err, "pidfd_open for " + args[0]);
  }
  ChildProcess child;
  child.pid_ = pid;
  child.pidfd_ = pidfd;
  child.group_leader_ = options.new_process_group;
  return child;
}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    Close();
    pid_ = std::exchange(other.pid_, -1);
    pidfd_ = std::exchange(other.pidfd_, -1);
    group_leader_ = std::exchange(other.group_leader_, false);
  }
  return *this;
}

int ChildProcess::release_pidfd() {
  pid_ = -1;
  group_leader_ = false;
  return std::exchange(pidfd_, -1);
}

void ChildProcess::Close() {
  if (pidfd_ >= 0) close(pidfd_);
  pidfd_ = -1;
  pid_ = -1;
}

void ChildProcess::Signal(int sig) const { SignalPidfd(pidfd_, sig); }

void SignalPidfd(int pidfd, int sig) {
  if (pidfd >= 0) PidfdSendSignal(pidfd, sig);
}

void ChildProcess::SignalGroup(int sig) const {
  if (pidfd_ < 0) return;
  // Not reaped yet, so the pgid (= pid) still names this child's group.
  if (group_leader_ && kill(-pid_, sig) == 0) return;
  Signal(sig);
}

std::optional<std::string> ChildProcess::TryReap() {
  if (pidfd_ < 0) return std::nullopt;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == 0) return std::nullopt;
  std::string how = r == pid_ ? DescribeWaitStatus(status) : "ended (status unknown)";
  Close();
  return how;
}

std::string DescribeWaitStatus(int status) {
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    return "killed by signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
  }
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  return "ended";
}

}  // namespace trellis::manager
