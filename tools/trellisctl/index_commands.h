// The driver index and bind diagnostics at run time:
//   trellisctl why NODE                       every driver considered, and why
//   trellisctl driver register MANIFEST       load a manifest; bind where it wins
//   trellisctl driver disable|enable NAME     unbind everywhere (rebind to the
//                                             next best) / bind again
//   trellisctl node add PARENT NAME --prop k=v ...   a test node
//   trellisctl node remove PATH               remove a test node
//   trellisctl ls class[/NAME] [--watch]      class instances, arrivals and
//                                             departures
#pragma once

#include <CLI/CLI.hpp>

#include "tools/trellisctl/command_context.h"

namespace trellis::tools {

void AddIndexCommands(CLI::App& app, const GlobalOptions& globals, Runner& run);

}  // namespace trellis::tools
