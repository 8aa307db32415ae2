// BoardFile: a board file loaded from JSON and validated — the static node
// tree, the suspend HAL and the driver directories of one machine.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string_view>
#include <vector>

#include "runtime/error.h"
#include "trellis/manifest/v1/manifest.pb.h"

namespace trellis::manager {

struct BoardFile {
  // The board; suspend_hal.state_path is filled in with its default.
  manifest::v1::BoardManifest board;
  // The board file, as the caller named it.
  std::filesystem::path source;
  // board.driver_dirs, absolute: relative entries are resolved against the
  // board file's directory.
  std::vector<std::filesystem::path> driver_dirs;
};

// Limits of the validation rules.
inline constexpr int kMaxBoardTreeDepth = 16;
inline constexpr int kMaxNodeProperties = 64;
inline constexpr size_t kMaxPropertyKeyLength = 128;
inline constexpr std::string_view kDefaultSysfsStatePath = "/sys/power/state";

// Reads, parses and validates the board file at `path`. Thread-safe; blocks
// on file I/O.
// Errors:
//   kNotFound          — `path` does not exist.
//   kPermissionDenied  — `path` cannot be read.
//   kInvalidArgument   — invalid JSON, too large, empty, or a rule of
//                        ParseBoard is broken; "<path>: field '<field>': <reason>".
[[nodiscard]] Result<BoardFile> LoadBoard(const std::filesystem::path& path);

// Parses and validates board text as if read from `source` (driver_dirs are
// resolved against its directory). Rules, first violation wins:
//   name         required, [a-z0-9][a-z0-9._-]{0,62}
//   nodes        names [A-Za-z0-9_-]{1,63} and unique among siblings; at most
//                16 levels deep (top-level nodes are level 1)
//   properties   key non-empty and at most 128 bytes, value set, no key twice
//                on a node, at most 64 per node
//   backend      argv non-empty with a program in argv[0]; socket non-empty,
//                an absolute one at most 107 bytes (sockaddr_un), unique among
//                nodes; a "virtio.socket" property on the node must be a
//                string and, where both are absolute, the same path (the
//                rest is checked once resolved: ResolveBoardBackends)
//   suspend_hal  a known kind; LINUX_SYSFS gets state_path "/sys/power/state"
//                if empty, and a given state_path must be absolute
//   driver_dirs  at least one, none empty
// Never crashes on any input. Thread-safe; reads no files.
// Errors: kInvalidArgument, message starting with `source`.
[[nodiscard]] Result<BoardFile> ParseBoard(std::string_view json,
                                           const std::filesystem::path& source);

}  // namespace trellis::manager
