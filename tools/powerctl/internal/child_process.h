// Running the command `powerctl lease` holds a wake lease for: spawning it,
// reaping it without blocking, and turning its end into a shell-style exit
// code.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "runtime/error.h"

namespace trellis::powerctl::internal {

// Starts `argv` (argv[0] is looked up in $PATH) with powerctl's stdin,
// stdout, stderr, environment and process group. Signal handlers powerctl
// installed are reset to the default in the child (by exec); ignored
// signals stay ignored. Does not wait.
// Errors: from posix_spawnp — kNotFound if argv[0] does not exist,
// kPermissionDenied if it is not executable; kInvalidArgument for an empty
// argv.
[[nodiscard]] Result<pid_t> SpawnCommand(const std::vector<std::string>& argv);

// Reaps `pid` if it has ended: its wait status, or nullopt while it runs
// (or was only stopped). Never blocks.
// Errors: from waitpid (kInvalidArgument / ECHILD if `pid` is not our
// child).
[[nodiscard]] Result<std::optional<int>> TryReap(pid_t pid);

// The exit code a shell reports for a wait status: the exit status, or 128
// plus the number of the signal that killed it.
int ShellExitCode(int wait_status);

// What a shell exits with when it cannot run a command: 127 if it was not
// found, 126 otherwise.
int SpawnFailureExitCode(const Error& error);

}  // namespace trellis::powerctl::internal
