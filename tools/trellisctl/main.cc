// trellisctl: inspect and drive a running trellis-manager.
//
//   trellisctl [--endpoint unix:/run/trellis/manager.sock] [--json] COMMAND ...
//
// Commands: nodes, show, graph (topology_commands.h); drivers, hosts,
// restart (inventory_commands.h); device command|subscribe|allow
// (device_commands.h); block info|read|write|bench (block_commands.h);
// entropy read, console write|read (stream_device_commands.h).
// Exit codes: 0 success, 1 the command failed (the reason on stderr as
// "trellisctl: <what>: <CODE>: <message>"), 2 bad usage.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "tools/trellisctl/block_commands.h"
#include "tools/trellisctl/command_context.h"
#include "tools/trellisctl/device_commands.h"
#include "tools/trellisctl/index_commands.h"
#include "tools/trellisctl/log_commands.h"
#include "tools/trellisctl/inventory_commands.h"
#include "tools/trellisctl/stream_device_commands.h"
#include "tools/trellisctl/topology_commands.h"

int main(int argc, char** argv) {
  using namespace trellis::tools;
  CLI::App app{"trellisctl: inspect and drive a running trellis-manager"};
  // Global options are accepted after the command name too ("nodes --json").
  app.fallthrough();
  app.require_subcommand(1);
  GlobalOptions globals;
  app.add_option("--endpoint", globals.endpoint,
                 "Manager target (default: unix:$TRELLIS_RUNTIME_DIR/manager.sock, else "
                 "$XDG_RUNTIME_DIR/trellis/..., else /tmp/trellis-$UID/...)");
  app.add_flag("--json", globals.json, "Machine-readable JSON output");

  Runner run;
  AddTopologyCommands(app, globals, run);
  AddInventoryCommands(app, globals, run);
  AddIndexCommands(app, globals, run);
  AddLogCommands(app, globals, run);
  AddDeviceCommands(app, globals, run);
  AddBlockCommands(app, globals, run);
  AddStreamDeviceCommands(app, globals, run);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    // --help and --version exit 0; every real parse error is a usage error.
    return app.exit(error) == 0 ? kExitOk : kExitUsage;
  }
  if (!run) {
    std::fputs("trellisctl: no command given; see --help\n", stderr);
    return kExitUsage;
  }
  try {
    return run();
  } catch (const std::exception& error) {
    std::fprintf(stderr, "trellisctl: internal error: %s\n", error.what());
    return kExitFailure;
  }
}
