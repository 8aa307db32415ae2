// ChildProcess: a process the manager spawned (posix_spawn), held through a
// pidfd. The pidfd becomes readable when the process ends, so the manager
// watches it on its reactor (Reactor::FdReady) like any fd; signals go
// through the pidfd, so they never reach a recycled pid. Used for driver
// hosts (ProcessLauncher) and board-declared backends (BackendSupervisor).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "runtime/error.h"

namespace trellis::manager {

struct SpawnOptions {
  // Program and arguments. argv[0] is looked up in PATH unless it contains
  // a '/'.
  std::vector<std::string> argv;
  // (parent fd, child fd) pairs dup2'ed into the child; -1 as the parent fd
  // gives the child /dev/null. Every other fd is closed in the child
  // (whether or not it is close-on-exec), except 0, 1 and 2, which the
  // child inherits unless remapped here.
  std::vector<std::pair<int, int>> fds;
  // Puts the child in a process group of its own (pgid = pid), so that
  // signals to the manager's group do not reach it and SignalGroup reaches
  // its helpers.
  bool new_process_group = false;
  // Gives the child an empty signal mask and default dispositions (the
  // manager blocks SIGINT/SIGTERM for sigwait and ignores SIGPIPE). Off, the
  // child inherits both, as driver hosts always have.
  bool reset_signals = false;
};

// Move-only; owns the pidfd. Dropping it neither kills nor reaps the child.
class ChildProcess {
 public:
  ChildProcess() = default;
  // Spawns the child. Thread-safe.
  // Errors: from posix_spawn (kNotFound when the program is missing) or
  // pidfd_open (then the child is killed and reaped).
  [[nodiscard]] static Result<ChildProcess> Spawn(const SpawnOptions& options);

  ChildProcess(ChildProcess&& other) noexcept { *this = std::move(other); }
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess() { Close(); }

  explicit operator bool() const { return pidfd_ >= 0; }
  pid_t pid() const { return pid_; }
  // Readable once the process has ended; -1 for an empty handle.
  int pidfd() const { return pidfd_; }
  // Gives up the pidfd to the caller (who closes it); the handle empties.
  int release_pidfd();

  // Sends `sig` to the process (through the pidfd). Never blocks.
  void Signal(int sig) const;
  // Sends `sig` to the process group when the child leads one, else to the
  // process. Only while the child is not reaped (its pgid cannot be reused
  // until then). Never blocks.
  void SignalGroup(int sig) const;
  // Reaps the process if it has ended, describing how ("exited with status
  // 1", "killed by signal 9 (Killed)"), and empties the handle; nullopt
  // while it runs. Never blocks.
  std::optional<std::string> TryReap();

 private:
  void Close();
  pid_t pid_ = -1;
  int pidfd_ = -1;
  bool group_leader_ = false;
};

// Sends `sig` through a pidfd held elsewhere (e.g. a released one). Never blocks.
void SignalPidfd(int pidfd, int sig);

// How a waitpid status ended a process, as TryReap describes it.
std::string DescribeWaitStatus(int status);

}  // namespace trellis::manager
