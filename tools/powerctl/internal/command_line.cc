// MarkTrailingCommand.
#include "tools/powerctl/internal/command_line.h"

#include <algorithm>
#include <cstddef>

namespace trellis::powerctl::internal {

namespace {

bool IsOption(std::string_view arg) { return arg.size() > 1 && arg.front() == '-'; }

// Index of the first argument at or after `i` that is not an option or an
// option's value; args.size() if none, or the index of a "--".
size_t SkipOptions(const std::vector<std::string>& args, size_t i,
                   const std::function<bool(std::string_view)>& takes_value) {
  while (i < args.size() && args[i] != "--" && IsOption(args[i])) {
    bool inline_value = args[i].find('=') != std::string::npos;
    i += (!inline_value && takes_value(args[i])) ? 2 : 1;
  }
  return std::min(i, args.size());
}

}  // namespace

std::vector<std::string> MarkTrailingCommand(
    std::vector<std::string> args, std::string_view subcommand,
    const std::function<bool(std::string_view option)>& takes_value) {
  size_t i = SkipOptions(args, 0, takes_value);
  if (i == args.size() || args[i] != subcommand) return args;
  i = SkipOptions(args, i + 1, takes_value);
  if (i == args.size() || args[i] == "--") return args;
  args.insert(args.begin() + static_cast<std::ptrdiff_t>(i), "--");
  return args;
}

}  // namespace trellis::powerctl::internal
