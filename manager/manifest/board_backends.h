// BoardBackend: a board node's backend process (BoardNode.backend) resolved
// against the manager's state directory — the socket path made absolute,
// "{socket}" and "{state_dir}" substituted in argv, defaults filled in.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "manager/manifest/board.h"
#include "runtime/error.h"

namespace trellis::manager {

struct BoardBackend {
  std::string node_path;          // "root.sys.disk0".
  std::vector<std::string> argv;  // Substituted.
  std::string socket;             // Absolute.
  std::chrono::milliseconds ready_timeout{5000};
  bool restart = true;
};

// The longest socket path that fits sockaddr_un's sun_path with its NUL.
inline constexpr size_t kMaxSocketPathLength = 107;
inline constexpr std::chrono::milliseconds kDefaultBackendReadyTimeout{5000};
// The node property a backend's socket path is published in.
inline constexpr std::string_view kVirtioSocketProperty = "virtio.socket";

// Resolves the backends of a board that ParseBoard accepted, in board order.
// A relative socket is under `state_dir`; a string "virtio.socket" property
// has "{runtime_dir}" replaced by `state_dir` before it is compared. Rules,
// first violation wins:
//   socket          resolved, at most 107 bytes (sockaddr_un)
//   duplicates      no two nodes resolve to the same socket
//   virtio.socket   if the node has it too: a string naming the same path
// Thread-safe; reads no files.
// Errors: kInvalidArgument, "<board>: field '<field>': node <path>: <reason>".
[[nodiscard]] Result<std::vector<BoardBackend>> ResolveBoardBackends(
    const BoardFile& board, const std::filesystem::path& state_dir);

}  // namespace trellis::manager
