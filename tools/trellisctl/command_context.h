// What every trellisctl command shares: the global options, how a parsed
// command is run, connecting to the manager, and how failures are printed.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "runtime/error.h"
#include "tools/client/client.h"

namespace trellis::tools {

// Process exit codes.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // The command ran and failed.
inline constexpr int kExitUsage = 2;    // Bad command line.

// Options given before or after the command name.
struct GlobalOptions {
  // Manager target; empty means client::DefaultManagerEndpoint().
  std::string endpoint;
  // Machine-readable output.
  bool json = false;
};

// The parsed command, set by its CLI11 callback; returns the exit code.
using Runner = std::function<int()>;

// Connects to the manager named by `globals`. Blocks up to a few seconds.
// Errors: as client::ManagerClient::Connect (kUnavailable if it is not
// running).
[[nodiscard]] Result<client::ManagerClient> ConnectManager(const GlobalOptions& globals);

// Prints "trellisctl: <what>: <CODE>: <message>" to stderr and returns
// kExitFailure. `what` names what was attempted ("show root.sys.x").
int ReportError(std::string_view what, const Error& error);

// Writes `text` to stdout and flushes it (streamed output must not wait in
// a buffer).
void Print(std::string_view text);

}  // namespace trellis::tools
