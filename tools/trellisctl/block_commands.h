// trellisctl block info / read / write / bench: the Block protocol of a
// node, bound through the manager for the length of one invocation.
#pragma once

#include <CLI/CLI.hpp>

#include "tools/trellisctl/command_context.h"

namespace trellis::tools {

// Adds the `block` subcommand group to `app`. Its CLI11 callbacks set
// `run`; `globals` and `run` must outlive parsing and running.
void AddBlockCommands(CLI::App& app, const GlobalOptions& globals, Runner& run);

}  // namespace trellis::tools
