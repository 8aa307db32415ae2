// trellisctl entropy read / console write / console read: the Entropy and
// Console protocols of a node (virtio-rng, virtio-console), bound through
// the manager for the length of one invocation.
#pragma once

#include <CLI/CLI.hpp>

#include "tools/trellisctl/command_context.h"

namespace trellis::tools {

// Adds the `entropy` and `console` subcommand groups to `app`. Their CLI11
// callbacks set `run`; `globals` and `run` must outlive parsing and running.
void AddStreamDeviceCommands(CLI::App& app, const GlobalOptions& globals, Runner& run);

}  // namespace trellis::tools
