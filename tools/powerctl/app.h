// powerctl's command line: parses the arguments and runs the command.
#pragma once

#include <string>
#include <vector>

#include "tools/powerctl/command_context.h"

namespace trellis::powerctl {

// Runs powerctl with `args` (argv without argv[0]), writing to `io`.
// Returns the process exit code: see command_context.h, lease_command.h and
// suspend_commands.h; CLI11's --help exits 0 and a bad command line 2
// (with CLI11's message naming the flag on io.err).
int RunPowerctl(std::vector<std::string> args, const Io& io);

}  // namespace trellis::powerctl
