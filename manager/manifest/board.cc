#include "manager/manifest/board.h"

#include <map>
#include <set>
#include <string>
#include <system_error>

#include "manager/manifest/board_backends.h"
#include "manager/manifest/internal/validation.h"
#include "manager/manifest/json_proto.h"

namespace trellis::manager {

namespace {

namespace fs = std::filesystem;
using internal::FieldError;
using internal::Indexed;
using internal::Quote;
using manifest::v1::BoardNode;
using manifest::v1::SuspendHal;

constexpr size_t kMaxNodeNameLength = 63;

// [A-Za-z0-9_-]{1,63}
bool IsValidNodeName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNodeNameLength) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Result<void> ValidateProperties(const BoardNode& node, const std::string& node_field,
                                const fs::path& source) {
  std::string field = node_field + ".properties";
  if (node.properties_size() > kMaxNodeProperties) {
    return Fail(FieldError(source, field,
                           "has " + std::to_string(node.properties_size()) +
                               " properties, at most 64 are allowed"));
  }
  std::set<std::string_view> keys;
  for (int i = 0; i < node.properties_size(); ++i) {
    const node::v1::NodeProperty& property = node.properties(i);
    std::string property_field = Indexed(field, i);
    if (property.key().empty()) {
      return Fail(FieldError(source, property_field + ".key", "must not be empty"));
    }
    if (property.key().size() > kMaxPropertyKeyLength) {
      return Fail(FieldError(source, property_field + ".key",
                             "is " + std::to_string(property.key().size()) +
                                 " characters long, at most 128 are allowed"));
    }
    if (property.value_case() == node::v1::NodeProperty::VALUE_NOT_SET) {
      return Fail(FieldError(source, property_field, "no value set"));
    }
    if (!keys.insert(property.key()).second) {
      return Fail(FieldError(source, property_field + ".key",
                             "duplicate key " + Quote(property.key())));
    }
  }
  return Ok();
}

// Checks of a node's backend that need no state directory; the rest (a
// relative socket's length, duplicates once resolved) are in
// ResolveBoardBackends. `sockets` collects the socket paths seen so far.
Result<void> ValidateBackend(const BoardNode& node, const std::string& node_field,
                             const std::string& path, std::map<std::string, std::string>& sockets,
                             const fs::path& source) {
  const manifest::v1::Backend& backend = node.backend();
  std::string field = node_field + ".backend";
  auto error = [&](const std::string& at, const std::string& reason) {
    return Fail(FieldError(source, at, "node " + path + ": " + reason));
  };
  if (backend.argv().empty()) {
    return error(field + ".argv", "must not be empty: name the backend program to run");
  }
  if (backend.argv(0).empty()) return error(Indexed(field + ".argv", 0), "must name a program");
  for (int i = 0; i < backend.argv_size(); ++i) {
    if (backend.argv(i).find('\0') != std::string::npos) {
      return error(Indexed(field + ".argv", i), "must not contain a NUL character");
    }
  }
  const std::string& socket = backend.socket();
  if (socket.empty()) {
    return error(field + ".socket", "must not be empty: name the socket the backend listens on");
  }
  if (socket.find('\0') != std::string::npos) {
    return error(field + ".socket", "must not contain a NUL character");
  }
  std::string normal = fs::path(socket).lexically_normal().string();
  if (fs::path(socket).is_absolute() && normal.size() > kMaxSocketPathLength) {
    return error(field + ".socket", "socket path " + Quote(socket) + " is " +
                                        std::to_string(normal.size()) + " bytes, at most " +
                                        std::to_string(kMaxSocketPathLength) +
                                        " fit in sockaddr_un");
  }
  auto [owner, inserted] = sockets.emplace(normal, path);
  if (!inserted) {
    return error(field + ".socket",
                 "socket " + Quote(socket) + " is also the backend socket of " + owner->second);
  }
  for (int i = 0; i < node.properties_size(); ++i) {
    const node::v1::NodeProperty& property = node.properties(i);
    if (property.key() != kVirtioSocketProperty) continue;
    std::string property_field = Indexed(node_field + ".properties", i);
    if (property.value_case() != node::v1::NodeProperty::kStringValue) {
      return error(property_field, "'virtio.socket' must be a string naming the backend's socket");
    }
    // Relative paths and "{runtime_dir}" are compared once resolved.
    const std::string& named = property.string_value();
    if (fs::path(named).is_absolute() && fs::path(socket).is_absolute() &&
        named.find('{') == std::string::npos &&
        fs::path(named).lexically_normal().string() != normal) {
      return error(property_field, "'virtio.socket' is " + Quote(named) +
                                       " but the backend listens on " + Quote(socket) +
                                       "; drop the property (the manager sets it) or make "
                                       "them agree");
    }
  }
  return Ok();
}

// Validates `nodes`, whose field path is `field`, whose parent's node path is
// `parent` and whose level is `depth` (top-level nodes are level 1).
// Recursion stops at kMaxBoardTreeDepth + 1.
Result<void> ValidateNodes(const google::protobuf::RepeatedPtrField<BoardNode>& nodes,
                           const std::string& field, const std::string& parent, int depth,
                           std::map<std::string, std::string>& sockets, const fs::path& source) {
  std::set<std::string_view> names;
  for (int i = 0; i < nodes.size(); ++i) {
    const BoardNode& node = nodes[i];
    std::string node_field = Indexed(field, i);
    if (depth > kMaxBoardTreeDepth) {
      return Fail(FieldError(source, node_field, "node tree is deeper than 16 levels"));
    }
    if (node.name().empty()) {
      return Fail(FieldError(source, node_field + ".name", "must not be empty"));
    }
    if (!IsValidNodeName(node.name())) {
      return Fail(FieldError(source, node_field + ".name",
                             Quote(node.name()) +
                                 " is not a valid node name: use 1 to 63 characters from "
                                 "[A-Za-z0-9_-] (no '.', node paths are dotted)"));
    }
    if (!names.insert(node.name()).second) {
      return Fail(FieldError(source, node_field + ".name",
                             "duplicate sibling name " + Quote(node.name())));
    }
    TRELLIS_TRY(ValidateProperties(node, node_field, source));
    std::string path = parent + "." + node.name();
    if (node.has_backend()) TRELLIS_TRY(ValidateBackend(node, node_field, path, sockets, source));
    TRELLIS_TRY(
        ValidateNodes(node.children(), node_field + ".children", path, depth + 1, sockets, source));
  }
  return Ok();
}

Result<void> ValidateSuspendHal(SuspendHal& hal, const fs::path& source) {
  switch (hal.kind()) {
    case SuspendHal::UNSPECIFIED:
    case SuspendHal::SIMULATED:
      return Ok();
    case SuspendHal::LINUX_SYSFS:
      if (hal.state_path().empty()) hal.set_state_path(std::string(kDefaultSysfsStatePath));
      if (!fs::path(hal.state_path()).is_absolute()) {
        return Fail(FieldError(source, "suspend_hal.state_path",
                               "must be an absolute path for LINUX_SYSFS, got " +
                                   Quote(hal.state_path())));
      }
      return Ok();
    default:
      return Fail(FieldError(source, "suspend_hal.kind",
                             "unknown suspend HAL kind " + std::to_string(hal.kind())));
  }
}

Result<std::vector<fs::path>> ResolveDriverDirs(const manifest::v1::BoardManifest& board,
                                                const fs::path& source) {
  if (board.driver_dirs().empty()) {
    return Fail(FieldError(source, "driver_dirs", "at least one driver directory is required"));
  }
  std::error_code ec;
  fs::path board_dir = fs::absolute(source, ec).parent_path();
  if (ec) {
    return Fail(internal::FileError(source, "cannot make the path absolute: " + ec.message()));
  }
  std::vector<fs::path> dirs;
  for (int i = 0; i < board.driver_dirs_size(); ++i) {
    const std::string& dir = board.driver_dirs(i);
    if (dir.empty()) return Fail(FieldError(source, Indexed("driver_dirs", i), "must not be empty"));
    if (dir.find('\0') != std::string::npos) {
      return Fail(FieldError(source, Indexed("driver_dirs", i), "must not contain a NUL character"));
    }
    dirs.push_back((board_dir / dir).lexically_normal());
  }
  return dirs;
}

}  // namespace

Result<BoardFile> ParseBoard(std::string_view json, const fs::path& source) {
  BoardFile file;
  file.source = source;
  manifest::v1::BoardManifest& board = file.board;
  TRELLIS_TRY(ParseJsonMessage(json, source, board));
  if (board.name().empty()) return Fail(FieldError(source, "name", "must not be empty"));
  if (!internal::IsValidManifestName(board.name())) {
    return Fail(FieldError(source, "name", internal::InvalidManifestNameReason(board.name())));
  }
  std::map<std::string, std::string> sockets;  // Backend socket → node path.
  TRELLIS_TRY(ValidateNodes(board.nodes(), "nodes", "root", 1, sockets, source));
  TRELLIS_TRY(ValidateSuspendHal(*board.mutable_suspend_hal(), source));
  TRELLIS_ASSIGN_OR_RETURN(file.driver_dirs, ResolveDriverDirs(board, source));
  return file;
}

Result<BoardFile> LoadBoard(const fs::path& path) {
  TRELLIS_ASSIGN_OR_RETURN(std::string json, ReadManifestFile(path));
  return ParseBoard(json, path);
}

}  // namespace trellis::manager
