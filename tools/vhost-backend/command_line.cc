#include "tools/vhost-backend/command_line.h"

#include <CLI/CLI.hpp>
#include <algorithm>

namespace trellis::vhost_backend {

using virtio::backend::ParseMisbehaviour;

ParseResult ParseCommandLine(const std::vector<std::string>& args, std::ostream& out,
                             std::ostream& err) {
  CLI::App app{
      "trellis-vhost-backend: a vhost-user device backend (virtio-rng or "
      "virtio-console), optionally hostile, for Trellis' VirtIO drivers and tests",
      "trellis-vhost-backend"};
  CommandLine cl;
  std::string misbehave;
  std::optional<uint64_t> stall_after;
  app.add_option("--device", cl.device, "Device to serve")
      ->required()
      ->check(CLI::IsMember({"rng", "console"}));
  app.add_option("--socket", cl.socket, "Unix socket path to listen on")->required();
  CLI::Option* input = app.add_option("--input", cl.input, "Console input file (default: stdin)");
  CLI::Option* output =
      app.add_option("--output", cl.output, "Console output file (default: stdout)");
  app.add_option("--misbehave", misbehave,
                 "Make a push malformed: id-out-of-range, id-not-head, duplicate, "
                 "length-too-large, index-jump or index-backwards")
      ->check(CLI::IsMember({"id-out-of-range", "id-not-head", "duplicate", "length-too-large",
                             "index-jump", "index-backwards"}));
  app.add_option("--misbehave-after", cl.hostile.misbehave_after,
                 "Which push on each queue misbehaves (1: the first), per connection")
      ->check(CLI::Range(uint64_t{1}, UINT64_MAX))
      ->capture_default_str();
  app.add_option("--stall-after", stall_after,
                 "Stop answering kicks after N completions per connection (keeps the "
                 "connection)")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--once", cl.once, "Exit after the first connection ends");

  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes them last-first.
  try {
    app.parse(std::move(reversed));
    if (cl.device != "console" && (input->count() > 0 || output->count() > 0)) {
      throw CLI::ValidationError(input->count() > 0 ? "--input" : "--output",
                                 "only for --device console");
    }
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error, out, err);
    return {.options = std::nullopt, .exit_code = code == 0 ? kExitOk : kExitUsage};
  }
  if (!misbehave.empty()) cl.hostile.misbehave = *ParseMisbehaviour(misbehave);
  cl.hostile.stall_after = stall_after;
  return {.options = std::move(cl), .exit_code = kExitOk};
}

}  // namespace trellis::vhost_backend
