#include "manager/manifest/board.h"

#include <set>
#include <string>
#include <system_error>

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

// Validates `nodes`, whose field path is `field` and whose level is `depth`
// (top-level nodes are level 1). Recursion stops at kMaxBoardTreeDepth + 1.
Result<void> ValidateNodes(const google::protobuf::RepeatedPtrField<BoardNode>& nodes,
                           const std::string& field, int depth, const fs::path& source) {
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
    TRELLIS_TRY(ValidateNodes(node.children(), node_field + ".children", depth + 1, source));
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
  TRELLIS_TRY(ValidateNodes(board.nodes(), "nodes", 1, source));
  TRELLIS_TRY(ValidateSuspendHal(*board.mutable_suspend_hal(), source));
  TRELLIS_ASSIGN_OR_RETURN(file.driver_dirs, ResolveDriverDirs(board, source));
  return file;
}

Result<BoardFile> LoadBoard(const fs::path& path) {
  TRELLIS_ASSIGN_OR_RETURN(std::string json, ReadManifestFile(path));
  return ParseBoard(json, path);
}

}  // namespace trellis::manager
