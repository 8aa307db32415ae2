// What every powerctl command shares: the global options, where output goes,
// how a parsed command is run, connecting to the Power service, and how
// failures are reported.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "runtime/error.h"
#include "tools/powerctl/power_client.h"

namespace trellis::powerctl {

// Process exit codes. `lease` exits with its command's status instead once
// the command runs.
inline constexpr int kExitOk = 0;
// suspend: the attempt failed or was aborted; why-not: something would refuse.
inline constexpr int kExitFailed = 1;
inline constexpr int kExitError = 2;   // An RPC or I/O error, or bad usage.

// Options given before or after the command name.
struct GlobalOptions {
  // Manager target; empty means client::DefaultManagerEndpoint().
  std::string endpoint;
  // Machine-readable output: one JSON document per command (watch: one
  // object per line).
  bool json = false;
  // --timeout as given (checked by client::DurationValidator); "0" means no
  // deadline.
  std::string timeout = "10s";
  // Whether --timeout was on the command line. Suspend and the streams only
  // get a deadline when it was.
  bool timeout_given = false;
};

// Where a command writes.
struct Io {
  std::ostream& out;
  std::ostream& err;
  // Whether `err` is a terminal; progress lines are only drawn there.
  bool err_is_tty = false;
};

// The parsed command, set by its CLI11 callback; returns the exit code.
using Runner = std::function<int()>;

// The call deadline --timeout asks for: nullopt for 0 (no deadline).
std::optional<std::chrono::milliseconds> CallTimeout(const GlobalOptions& globals);

// Connects to the manager named by `globals`, waiting up to --timeout (at
// most 5 s). Blocks. Errors: as PowerClient::Connect.
[[nodiscard]] Result<PowerClient> ConnectPower(const GlobalOptions& globals);

// Prints "powerctl: <message>" to io.err (the message names the call, as in
// "Power.Suspend: wake leases held: ota"); with --json also writes
// {"error": {"code": "DEADLINE_EXCEEDED", "message": ...}} to io.out.
// Returns kExitError.
int ReportError(const Io& io, const GlobalOptions& globals, const Error& error);

// Prints "powerctl: warning: <text>" to io.err.
void Warn(const Io& io, std::string_view text);

// Writes `text` to io.out and flushes it (streamed output must not wait in
// a buffer).
void Print(const Io& io, std::string_view text);

}  // namespace trellis::powerctl
