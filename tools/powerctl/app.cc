// The CLI11 application: global options and every command.
#include "tools/powerctl/app.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <exception>

#include "tools/client/duration.h"
#include "tools/powerctl/internal/command_line.h"
#include "tools/powerctl/lease_command.h"
#include "tools/powerctl/plan_commands.h"
#include "tools/powerctl/status_commands.h"
#include "tools/powerctl/suspend_commands.h"

namespace trellis::powerctl {

namespace {

// Whether `name` ("--name", "-h") is an option of `app` or of its
// `subcommand` that takes a value.
bool TakesValue(const CLI::App& app, const CLI::App& subcommand, std::string_view name) {
  for (const CLI::App* scope : {&subcommand, &app}) {
    const CLI::Option* option = scope->get_option_no_throw(std::string(name));
    if (option != nullptr) return option->get_expected_min() > 0;  // Flags expect none.
  }
  return false;
}

}  // namespace

int RunPowerctl(std::vector<std::string> args, const Io& io) {
  CLI::App app{"powerctl: suspend, resume and wake leases of a running trellis-manager",
               "powerctl"};
  // Global options are accepted after the command name too ("status --json").
  app.fallthrough();
  app.require_subcommand(1);
  GlobalOptions globals;
  app.add_option("--endpoint", globals.endpoint,
                 "Manager target (default: unix:$TRELLIS_RUNTIME_DIR/manager.sock, else "
                 "$XDG_RUNTIME_DIR/trellis/..., else /tmp/trellis-$UID/...)");
  app.add_flag("--json", globals.json, "Machine-readable JSON output");
  CLI::Option* timeout =
      app.add_option("--timeout", globals.timeout,
                     "Deadline of each call (0: none). suspend and watch have none unless "
                     "this is given; lease waits this long for the grant")
          ->check(client::DurationValidator())
          ->type_name("DURATION")
          ->capture_default_str();

  Runner run;
  AddStatusCommands(app, globals, io, run);
  AddSuspendCommands(app, globals, io, run);
  AddPlanCommands(app, globals, io, run);
  AddLeaseCommand(app, globals, io, run);

  // CMD of `lease` is passed on verbatim, dashes and all.
  const CLI::App& lease = *app.get_subcommand(kLeaseCommand);
  args = internal::MarkTrailingCommand(std::move(args), kLeaseCommand, [&](std::string_view name) {
    return TakesValue(app, lease, name);
  });
  // CLI11 takes the arguments last-first.
  std::reverse(args.begin(), args.end());
  try {
    app.parse(std::move(args));
  } catch (const CLI::ParseError& error) {
    // --help exits 0; every real parse error is a usage error.
    return app.exit(error, io.out, io.err) == 0 ? kExitOk : kExitError;
  }
  globals.timeout_given = timeout->count() > 0;
  if (!run) {
    io.err << "powerctl: no command given; see --help\n";
    return kExitError;
  }
  try {
    return run();
  } catch (const std::exception& error) {
    io.err << "powerctl: internal error: " << error.what() << "\n";
    return kExitError;
  }
}

}  // namespace trellis::powerctl
