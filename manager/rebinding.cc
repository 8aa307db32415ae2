// Manager: the driver index at run time (register, disable, enable), test
// nodes, bind explanations, and unbinding a node so that it binds again.
#include <algorithm>

#include "manager/join.h"
#include "manager/manager.h"
#include "runtime/rpc/properties.h"

namespace trellis::manager {

using manager::v1::TopologyEvent;

Selection Manager::SelectFor(const Node& node) const {
  std::vector<Candidate> candidates;
  candidates.reserve(drivers_.size());
  for (const auto& [name, record] : drivers_) {
    candidates.push_back({name, &record.file.manifest.bind(), record.disabled});
  }
  rpc::ProtoProperties properties;
  rpc::ToProto(node.properties(), &properties);
  return SelectDriver(candidates, properties);
}

void Manager::UnbindNode(Node* node, std::move_only_function<void()> done) {
  const std::string path = node->path();
  node->state = NodeState::kRemoving;
  // The children its driver added go first (their drivers stopped, deepest
  // first), then its own driver; the node stays, unbound. Board and test
  // children stay: they are not the driver's.
  std::vector<std::string> added;
  for (const auto& [name, child] : node->children()) {
    if (child->added_by_driver) added.push_back(child->path());
  }
  auto then = [this, path, done = std::move(done)]() mutable {
    StopNodeDriver(path, [this, path, done = std::move(done)]() mutable {
      if (Node* node = topology_.Find(path)) {
        node->state = NodeState::kUnbound;
        node->driver.clear();
        node->host_id.clear();
        node->token.clear();
        node->exposed.clear();
        node->restarts = 0;
        node->last_error.clear();
      }
      done();
    });
  };
  std::vector<Node*> removable;
  for (const auto& child : added) {
    Node* node = topology_.Find(child);
    if (node != nullptr && node->state != NodeState::kRemoving) removable.push_back(node);
  }
  auto removed = JoinAfter(removable.size(), std::move(then));
  for (Node* child : removable) RemoveSubtree(child, /*keep_root=*/false, removed);
}

std::vector<std::string> Manager::BindWhereSelected(const std::string& driver) {
  std::vector<std::string> unbound, taken_over;
  topology_.PreOrder(topology_.root(), [&](Node* node) {
    if (node == topology_.root()) return;
    Selection selection = SelectFor(*node);
    if (selection.driver != driver) return;
    if (node->state == NodeState::kUnbound) {
      unbound.push_back(node->path());
      return;
    }
    // A fallback driver yields to the driver that now matches.
    auto current = drivers_.find(node->driver);
    if (node->state == NodeState::kBound && current != drivers_.end() &&
        current->second.file.manifest.bind().fallback() && node->driver != driver) {
      taken_over.push_back(node->path());
    }
  });
  for (const auto& path : unbound) {
    if (Node* node = topology_.Find(path)) BindNode(node);
  }
  for (const auto& path : taken_over) {
    // A taken-over node's subtree may hold later ones: check each is still there.
    Node* node = topology_.Find(path);
    if (node == nullptr || node->state != NodeState::kBound) continue;
    UnbindNode(node, [this, path] {
      if (Node* node = topology_.Find(path)) BindNode(node);
    });
  }
  unbound.insert(unbound.end(), taken_over.begin(), taken_over.end());
  std::ranges::sort(unbound);
  return unbound;
}

Result<Manager::Registered> Manager::RegisterDriver(const std::filesystem::path& manifest) {
  if (!manifest.is_absolute()) {
    return Fail(ErrorCode::kInvalidArgument,
                manifest.string() + ": the manifest path must be absolute");
  }
  TRELLIS_ASSIGN_OR_RETURN(DriverManifestFile file, LoadDriverManifest(manifest));
  const std::string name = file.manifest.name();
  if (auto existing = drivers_.find(name); existing != drivers_.end()) {
    return Fail(ErrorCode::kAlreadyExists, manifest.string() + ": a driver named '" + name +
                                               "' is already loaded (from " +
                                               existing->second.file.source.string() + ")");
  }
  drivers_.emplace(name, DriverRecord{.file = std::move(file)});
  std::fprintf(stderr, "trellis-manager: driver registered: %s (%s)\n", name.c_str(),
               manifest.c_str());
  return Registered{.name = name, .bound = BindWhereSelected(name)};
}

void Manager::DisableDriver(
    const std::string& name,
    std::move_only_function<void(Result<void>, std::vector<std::string>)> done) {
  auto record = drivers_.find(name);
  if (record == drivers_.end()) {
    done(Fail(ErrorCode::kNotFound, "no driver '" + name + "'"), {});
    return;
  }
  record->second.disabled = true;
  std::vector<std::string> bound;
  topology_.PreOrder(topology_.root(), [&](Node* node) {
    if (node->driver == name &&
        (node->state == NodeState::kBound || node->state == NodeState::kBinding ||
         node->state == NodeState::kQuarantined)) {
      bound.push_back(node->path());
    }
  });
  // Deepest first would not matter: an outer node's unbinding marks the
  // inner ones as being removed at once, and they are then skipped.
  auto unbound = std::make_shared<std::vector<std::string>>();
  auto all_unbound = JoinAfter(bound.size(), [unbound, done = std::move(done)]() mutable {
    done(Ok(), std::move(*unbound));
  });
  for (const auto& path : bound) {
    Node* node = topology_.Find(path);
    if (node == nullptr || node->driver != name || node->state == NodeState::kRemoving) {
      all_unbound();
      continue;
    }
    unbound->push_back(path);
    UnbindNode(node, [this, path, all_unbound] {
      if (Node* node = topology_.Find(path)) BindNode(node);  // Next best, or a fallback.
      all_unbound();
    });
  }
}

Result<std::vector<std::string>> Manager::EnableDriver(const std::string& name) {
  auto record = drivers_.find(name);
  if (record == drivers_.end()) return Fail(ErrorCode::kNotFound, "no driver '" + name + "'");
  record->second.disabled = false;
  return BindWhereSelected(name);
}

v1::ExplainBindingResponse Manager::ExplainBinding(const Node& node) const {
  v1::ExplainBindingResponse response;
  response.set_node_path(node.path());
  response.set_bound_driver(node.driver);
  response.set_last_error(node.last_error);
  Selection selection = SelectFor(node);
  if (selection.driver) response.set_selected_driver(*selection.driver);
  for (const auto& considered : selection.considered) {
    auto* verdict = response.add_considered();
    verdict->set_driver(considered.driver);
    verdict->set_reason(considered.reason);
    switch (considered.verdict) {
      case Considered::Verdict::kSelected:
        verdict->set_verdict(v1::DriverVerdict::VERDICT_SELECTED);
        break;
      case Considered::Verdict::kLostOnPriority:
        verdict->set_verdict(v1::DriverVerdict::VERDICT_LOST_ON_PRIORITY);
        break;
      case Considered::Verdict::kRuleFailed:
        verdict->set_verdict(v1::DriverVerdict::VERDICT_RULE_FAILED);
        break;
      case Considered::Verdict::kFallbackNotNeeded:
        verdict->set_verdict(v1::DriverVerdict::VERDICT_FALLBACK_NOT_NEEDED);
        break;
      case Considered::Verdict::kDisabled:
        verdict->set_verdict(v1::DriverVerdict::VERDICT_DISABLED);
        break;
    }
  }
  std::string summary;
  switch (node.state) {
    case NodeState::kBound:
      summary = "bound to '" + node.driver + "'";
      if (selection.driver && *selection.driver != node.driver) {
        summary += "; a bind now would select '" + *selection.driver + "'";
      }
      break;
    case NodeState::kBinding:
      summary = "binding: '" + node.driver + "' is starting";
      break;
    case NodeState::kQuarantined:
      summary = "quarantined: " + node.last_error;
      break;
    case NodeState::kRemoving:
      summary = "being removed or unbound";
      break;
    case NodeState::kUnbound:
      if (backends_ && backends_->Gating(node.path())) {
        summary = "unbound: waiting for its backend to be ready";
      } else if (!selection.driver) {
        summary = drivers_.empty() ? "unbound: no driver is loaded"
                                   : "unbound: no driver matches (" +
                                         std::to_string(drivers_.size()) + " considered)";
      } else if (!node.last_error.empty()) {
        summary = "unbound: '" + *selection.driver + "' was selected but failed: " +
                  node.last_error;
      } else {
        summary = "unbound: '" + *selection.driver + "' would bind";
      }
      break;
  }
  response.set_summary(std::move(summary));
  return response;
}

Result<Node*> Manager::AddTestNode(const std::string& parent_path, std::string name,
                                   NodeProperties properties) {
  Node* parent = topology_.Find(parent_path);
  if (parent == nullptr) return Fail(ErrorCode::kNotFound, "no node " + parent_path);
  if (parent->state == NodeState::kRemoving) {
    return Fail(ErrorCode::kFailedPrecondition, "node " + parent_path + " is being removed");
  }
  TRELLIS_ASSIGN_OR_RETURN(Node * node,
                           topology_.AddChild(parent, std::move(name), std::move(properties)));
  node->test_node = true;
  Publish(TopologyEvent::KIND_NODE_ADDED, node, "test node");
  BindNode(node);
  return node;
}

Result<void> Manager::RemoveTestNode(const std::string& path, std::move_only_function<void()> done) {
  Node* node = topology_.Find(path);
  if (node == nullptr) return Fail(ErrorCode::kNotFound, "no node " + path);
  if (!node->test_node) {
    return Fail(ErrorCode::kFailedPrecondition,
                path + " is not a test node (only nodes added with AddTestNode can be removed)");
  }
  if (node->state == NodeState::kRemoving) {
    return Fail(ErrorCode::kFailedPrecondition, path + " is already being removed");
  }
  RemoveSubtree(node, /*keep_root=*/false, std::move(done));
  return Ok();
}

}  // namespace trellis::manager
