#include "manager/manifest/board_backends.h"

#include <map>

#include "manager/manifest/internal/validation.h"

namespace trellis::manager {

namespace {

namespace fs = std::filesystem;
using internal::FieldError;
using internal::Indexed;
using internal::Quote;
using manifest::v1::BoardNode;

void ReplaceAll(std::string& text, std::string_view variable, const std::string& value) {
  for (size_t at = text.find(variable); at != std::string::npos;
       at = text.find(variable, at + value.size())) {
    text.replace(at, variable.size(), value);
  }
}

struct Resolver {
  const BoardFile& board;
  std::string state_dir;
  std::vector<BoardBackend> backends;
  std::map<std::string, std::string> socket_owners;  // Socket → node path.

  Error NodeError(const std::string& field, const std::string& path, const std::string& reason) {
    return FieldError(board.source, field, "node " + path + ": " + reason);
  }

  Result<void> Node(const BoardNode& node, const std::string& field, const std::string& path) {
    if (node.has_backend()) TRELLIS_TRY(Backend(node, field, path));
    for (int i = 0; i < node.children_size(); ++i) {
      const BoardNode& child = node.children(i);
      TRELLIS_TRY(Node(child, Indexed(field + ".children", i), path + "." + child.name()));
    }
    return Ok();
  }

  Result<void> Backend(const BoardNode& node, const std::string& field, const std::string& path) {
    const manifest::v1::Backend& spec = node.backend();
    BoardBackend backend{.node_path = path};
    fs::path socket(spec.socket());
    if (socket.is_relative()) socket = fs::path(state_dir) / socket;
    backend.socket = socket.lexically_normal().string();
    if (backend.socket.size() > kMaxSocketPathLength) {
      return Fail(NodeError(field + ".backend.socket", path,
                            "socket path " + Quote(backend.socket) + " is " +
                                std::to_string(backend.socket.size()) + " bytes, at most " +
                                std::to_string(kMaxSocketPathLength) +
                                " fit in sockaddr_un; use a shorter path or state directory"));
    }
    auto [owner, inserted] = socket_owners.emplace(backend.socket, path);
    if (!inserted) {
      return Fail(NodeError(
          field + ".backend.socket", path,
          "socket " + Quote(backend.socket) + " is also the backend socket of " + owner->second));
    }
    for (int i = 0; i < node.properties_size(); ++i) {
      const node::v1::NodeProperty& property = node.properties(i);
      if (property.key() != kVirtioSocketProperty) continue;
      std::string property_field = Indexed(field + ".properties", i);
      if (property.value_case() != node::v1::NodeProperty::kStringValue) {
        return Fail(NodeError(property_field, path,
                              "'virtio.socket' must be a string naming the backend's socket " +
                                  Quote(backend.socket)));
      }
      std::string named = property.string_value();
      ReplaceAll(named, "{runtime_dir}", state_dir);
      fs::path named_path(named);
      if (named_path.is_relative()) named_path = fs::path(state_dir) / named_path;
      if (named_path.lexically_normal().string() != backend.socket) {
        return Fail(NodeError(property_field, path,
                              "'virtio.socket' is " + Quote(property.string_value()) +
                                  " but the backend listens on " + Quote(backend.socket) +
                                  "; drop the property (the manager sets it) or make them agree"));
      }
    }
    for (std::string arg : spec.argv()) {
      ReplaceAll(arg, "{socket}", backend.socket);
      ReplaceAll(arg, "{state_dir}", state_dir);
      backend.argv.push_back(std::move(arg));
    }
    backend.ready_timeout = spec.has_ready_timeout_ms()
                                ? std::chrono::milliseconds(spec.ready_timeout_ms())
                                : kDefaultBackendReadyTimeout;
    backend.restart = !spec.has_restart() || spec.restart();
    backends.push_back(std::move(backend));
    return Ok();
  }
};

}  // namespace

Result<std::vector<BoardBackend>> ResolveBoardBackends(const BoardFile& board,
                                                       const fs::path& state_dir) {
  Resolver resolver{.board = board, .state_dir = state_dir.lexically_normal().string()};
  if (resolver.state_dir.size() > 1 && resolver.state_dir.ends_with('/')) {
    resolver.state_dir.pop_back();
  }
  const auto& nodes = board.board.nodes();
  for (int i = 0; i < nodes.size(); ++i) {
    TRELLIS_TRY(resolver.Node(nodes[i], Indexed("nodes", i), "root." + nodes[i].name()));
  }
  return std::move(resolver.backends);
}

}  // namespace trellis::manager
