// The read-only commands: status, leases, stats and watch.
//
//   powerctl status   state, since when, wake generation, held leases
//   powerctl leases   the held leases as a table
//   powerctl stats    suspend statistics, like /sys/power/suspend_stats
//   powerctl watch    one line per power state transition until Ctrl-C (or
//                     until --timeout, if given, which then exits 0)
#pragma once

#include <CLI/CLI.hpp>

#include "tools/powerctl/command_context.h"

namespace trellis::powerctl {

void AddStatusCommands(CLI::App& app, const GlobalOptions& globals, const Io& io, Runner& run);

}  // namespace trellis::powerctl
