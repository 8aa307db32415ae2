// The suspend plan, without suspending.
//
//   powerctl suspend --plan
//     Prints the drivers a suspend would take down, wave by wave, what
//     would refuse it now and how long it is expected to take.
//   powerctl why-not
//     One line per reason a suspend would be refused or delayed now (a
//     suspend blocker only delays); exit 0 if nothing refuses it, 1 if
//     something does, 2 if the call failed.
#pragma once

#include <CLI/CLI.hpp>

#include "tools/powerctl/command_context.h"

namespace trellis::powerctl {

// `suspend --plan`.
int RunPlan(const GlobalOptions& globals, const Io& io);

void AddPlanCommands(CLI::App& app, const GlobalOptions& globals, const Io& io, Runner& run);

}  // namespace trellis::powerctl
