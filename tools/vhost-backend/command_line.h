// The command line of trellis-vhost-backend:
//
//   trellis-vhost-backend --device rng|console --socket PATH
//       [--input PATH] [--output PATH]            (console only; default
//                                                  stdin / stdout)
//       [--misbehave KIND] [--misbehave-after N]  (N-th push per queue, N >= 1)
//       [--stall-after N]                         (N completions, N >= 0)
//       [--once]
//
// Pure parsing (CLI11): no files are opened here. Any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "virtio/backend/hostile_options.h"

namespace trellis::vhost_backend {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // Could not start or run.
inline constexpr int kExitUsage = 2;

struct CommandLine {
  std::string device;  // "rng" or "console".
  std::string socket;
  std::optional<std::string> input;
  std::optional<std::string> output;
  virtio::backend::HostileOptions hostile;
  bool once = false;
};

// The parsed options, or the exit code to leave with: kExitOk after --help
// (printed on `out`), kExitUsage after a usage error (printed on `err`,
// naming the flag and the reason). `args` excludes argv[0].
struct ParseResult {
  std::optional<CommandLine> options;
  int exit_code = kExitOk;
};
ParseResult ParseCommandLine(const std::vector<std::string>& args, std::ostream& out,
                             std::ostream& err);

}  // namespace trellis::vhost_backend
