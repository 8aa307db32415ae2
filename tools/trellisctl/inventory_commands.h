// trellisctl drivers / hosts / restart: loaded drivers and driver hosts.
#pragma once

#include <CLI/CLI.hpp>

#include "tools/trellisctl/command_context.h"

namespace trellis::tools {

// Adds the `drivers`, `hosts` and `restart` subcommands to `app`. Their
// CLI11 callbacks set `run`; `globals` and `run` must outlive parsing and
// running.
void AddInventoryCommands(CLI::App& app, const GlobalOptions& globals, Runner& run);

}  // namespace trellis::tools
