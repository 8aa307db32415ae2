// trellisctl logs [--node PATH] [--driver NAME] [-n N] [--follow]: the driver
// hosts' recent log from the manager (DriverManager.ReadLogs), one line per
// entry ("TIME LEVEL driver@node: text"); --json prints one object per line.
#pragma once

#include <CLI/CLI.hpp>

#include "tools/trellisctl/command_context.h"
#include "trellis/manager/v1/manager.pb.h"

namespace trellis::tools {

void AddLogCommands(CLI::App& app, const GlobalOptions& globals, Runner& run);

// "07:19:38.123 info  echo@root.sys.echo: started" (local time); a line
// no driver logged: "07:19:38.123 output h-3: text".
std::string FormatLogEntry(const manager::v1::LogEntry& entry);

}  // namespace trellis::tools
