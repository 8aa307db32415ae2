// powerctl lease --name NAME [--max-hold D] [--token T] [--parent ID] [--]
// CMD [ARGS...]: runs a command with a wake lease held, like systemd-inhibit.
// --max-hold gives the lease a budget (a warning when the manager asks for
// it back, another when it revokes it); --token and --parent are passed on
// as in AcquireWakeLeaseRequest.
//
// Opens Power.AcquireWakeLease, waits for `granted` (up to --timeout), runs
// CMD, waits for it, then closes the stream, which releases the lease.
// SIGINT, SIGTERM and SIGHUP sent to powerctl are passed on to CMD (those
// from the terminal already reached it, as it shares powerctl's process
// group, and are not sent twice). If the manager revokes the lease while CMD
// runs, a warning goes to stderr and powerctl keeps waiting.
//
// Exit code: CMD's, or 128 + the signal that killed it; 127 / 126 if CMD
// cannot be found / run; 2 if the lease could not be taken; 128 + signal
// if powerctl was interrupted before CMD started. Prints nothing on stdout
// (even with --json): stdout is CMD's.
#pragma once

#include <CLI/CLI.hpp>

#include "tools/powerctl/command_context.h"

namespace trellis::powerctl {

// The name of the subcommand whose trailing CMD is passed on verbatim (see
// internal/command_line.h).
inline constexpr char kLeaseCommand[] = "lease";

void AddLeaseCommand(CLI::App& app, const GlobalOptions& globals, const Io& io, Runner& run);

}  // namespace trellis::powerctl
