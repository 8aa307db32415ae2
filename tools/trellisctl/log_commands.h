// Observability:
//   trellisctl logs [--node PATH] [--driver NAME] [-n N] [--follow]: the
//     driver hosts' recent log (DriverManager.ReadLogs), one line per entry
//     ("TIME LEVEL driver@node: text"); --json prints one object per line.
//   trellisctl stats [--node PATH]: per-driver counters (DriverManager.
//     Inspect): starts, crashes, client calls, warnings and errors logged,
//     suspend and resume times.
#pragma once

#include <CLI/CLI.hpp>

#include "tools/trellisctl/command_context.h"
#include "trellis/manager/v1/manager.pb.h"

namespace trellis::tools {

void AddLogCommands(CLI::App& app, const GlobalOptions& globals, Runner& run);

// "07:19:38.123 info  echo@root.sys.echo: started" (local time); a line
// no driver logged: "07:19:38.123 output h-3: text".
std::string FormatLogEntry(const manager::v1::LogEntry& entry);
// The stats table: one row per driver.
std::string FormatDriverCounters(const manager::v1::InspectResponse& inspect);

}  // namespace trellis::tools
