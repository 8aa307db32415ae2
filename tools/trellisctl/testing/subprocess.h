// Child processes for integration tests: run a command and capture its
// output, or keep a long-running one (a manager) and stop it by signal.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "runtime/error.h"

namespace trellis::tools::testing {

// What a finished command printed and how it ended.
struct CommandResult {
  // The exit status, or -1 if a signal (or the timeout) ended it.
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs argv (argv[0] is a path, not searched in $PATH) with the caller's
// environment, collecting stdout and stderr until it exits. Past `timeout`
// the child is killed (exit_code -1). Blocks.
// Errors: from posix_spawn (kNotFound for a missing binary, ...).
[[nodiscard]] Result<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                               std::chrono::milliseconds timeout =
                                                   std::chrono::seconds(30));

// A spawned process that is killed and reaped when dropped, unless it was
// already waited for. Output goes where the caller's goes. Move-only.
class ChildProcess {
 public:
  // Starts argv. Errors: as RunCommand.
  static Result<ChildProcess> Spawn(const std::vector<std::string>& argv);

  ChildProcess(ChildProcess&& other) noexcept
      : pid_(std::exchange(other.pid_, -1)), status_(other.status_) {}
  ChildProcess& operator=(ChildProcess&&) = delete;
  ~ChildProcess();

  // Sends `signal` if the process has not been reaped.
  void Signal(int signal);
  // Whether it is still running (reaps it if it exited). Never blocks.
  bool TryRunning();
  // Waits up to `timeout` for it to exit and returns the raw wait status
  // (see WIFEXITED), or nullopt if it is still running. May block.
  std::optional<int> WaitForExit(std::chrono::milliseconds timeout);

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}

  pid_t pid_ = -1;  // -1 once reaped.
  std::optional<int> status_;
};

}  // namespace trellis::tools::testing
