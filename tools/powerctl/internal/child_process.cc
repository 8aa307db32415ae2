// SpawnCommand, TryReap and shell-style exit codes.
#include "tools/powerctl/internal/child_process.h"

#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>

extern char** environ;

namespace trellis::powerctl::internal {

Result<pid_t> SpawnCommand(const std::vector<std::string>& argv) {
  if (argv.empty()) return Fail(ErrorCode::kInvalidArgument, "no command to run");
  std::vector<char*> pointers;
  pointers.reserve(argv.size() + 1);
  for (const std::string& arg : argv) pointers.push_back(const_cast<char*>(arg.c_str()));
  pointers.push_back(nullptr);
  pid_t pid = 0;
  int err = posix_spawnp(&pid, pointers[0], nullptr, nullptr, pointers.data(), environ);
  if (err != 0) return FailErrno(err, "cannot run " + argv[0]);
  return pid;
}

Result<std::optional<int>> TryReap(pid_t pid) {
  int status = 0;
  pid_t reaped;
  do {
    reaped = waitpid(pid, &status, WNOHANG);
  } while (reaped < 0 && errno == EINTR);
  if (reaped < 0) return FailErrno(errno, "waitpid " + std::to_string(pid));
  if (reaped == 0) return std::optional<int>();
  return std::optional<int>(status);
}

int ShellExitCode(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 128;
}

int SpawnFailureExitCode(const Error& error) {
  return error.code() == ErrorCode::kNotFound ? 127 : 126;
}

}  // namespace trellis::powerctl::internal
