// trellisctl nodes / show / graph: views of the node topology.
#pragma once

#include <CLI/CLI.hpp>

#include "tools/trellisctl/command_context.h"

namespace trellis::tools {

// Adds the `nodes`, `show` and `graph` subcommands to `app`. Their CLI11
// callbacks set `run`; `globals` and `run` must outlive parsing and running.
void AddTopologyCommands(CLI::App& app, const GlobalOptions& globals, Runner& run);

}  // namespace trellis::tools
