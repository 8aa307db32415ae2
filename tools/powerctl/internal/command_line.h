// Splitting "powerctl lease --name N CMD ARGS..." so that CMD and its
// arguments reach the command verbatim, however they look.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace trellis::powerctl::internal {

// Inserts "--" in front of the trailing command of `subcommand` in `args`
// (argv without argv[0]), so that CLI11 hands everything from CMD on to the
// subcommand's positional CMD... option instead of parsing "-l" in "ls -l"
// as an option of powerctl:
//   [--json] lease --name x ls -l   →   [--json] lease --name x -- ls -l
// Options before the subcommand and between it and CMD are skipped;
// `takes_value("--name")` says whether an option consumes the next argument
// ("--name=x" never does). Nothing changes if the first argument that is
// not an option is not `subcommand`, if a "--" already marks CMD, or if
// there is no CMD.
std::vector<std::string> MarkTrailingCommand(
    std::vector<std::string> args, std::string_view subcommand,
    const std::function<bool(std::string_view option)>& takes_value);

}  // namespace trellis::powerctl::internal
