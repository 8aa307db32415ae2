// suspend and resume.
//
//   powerctl suspend [--wake-after D] [--wait D] [--trace FILE]
//                    [--expected-generation N] [--test drivers|hal] [--plan]
//     Suspends the system and waits until it has resumed (no deadline unless
//     --timeout is given). Prints the outcome; exit code 0 if it resumed
//     (or a --test suspend went through: outcome "tested"), 1
//     if the attempt failed or was aborted, 2 if the call failed. --trace
//     writes the drivers' callback timings to FILE as a Chrome / Perfetto
//     trace (trace_format.h). --plan prints what it would do instead
//     (plan_commands.h).
//   powerctl resume [--reason TEXT]
//     Wakes a suspended or suspending system; a no-op when it runs.
#pragma once

#include <CLI/CLI.hpp>

#include "tools/powerctl/command_context.h"

namespace trellis::powerctl {

void AddSuspendCommands(CLI::App& app, const GlobalOptions& globals, const Io& io, Runner& run);

}  // namespace trellis::powerctl
