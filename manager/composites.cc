// Manager: composite nodes (after DFv2's composite node specs). A spec
// names parents by bind rules; once each matches a bound node the manager
// adds the composite under the first parent's node, offering every
// parent's protocols as "<parent name>/<protocol>", and binds a driver to
// it like to any node. A parent going away, or its driver stopping,
// removes the composite first.
#include <algorithm>
#include <set>

#include "manager/manager.h"
#include "runtime/rpc/properties.h"

namespace trellis::manager {

using manager::v1::TopologyEvent;

namespace {

constexpr char kCompositeKey[] = "trellis.composite";

Result<void> CheckSpec(const manifest::v1::CompositeSpec& spec) {
  const std::string what = "composite '" + spec.name() + "'";
  TRELLIS_TRY(ValidateNodeName(spec.name()), "in " + what + ": name");
  if (spec.parents().empty()) {
    return Fail(ErrorCode::kInvalidArgument, what + " needs at least one parent");
  }
  std::set<std::string> names;
  for (const auto& parent : spec.parents()) {
    TRELLIS_TRY(ValidateNodeName(parent.name()), "in " + what + ": parent name");
    if (!names.insert(parent.name()).second) {
      return Fail(ErrorCode::kInvalidArgument,
                  what + " names parent '" + parent.name() + "' twice");
    }
    for (const auto& rule : parent.bind().accept()) {
      if (rule.key().empty()) {
        return Fail(ErrorCode::kInvalidArgument,
                    what + ", parent '" + parent.name() + "': a bind rule has no key");
      }
    }
  }
  for (const auto& property : spec.properties()) {
    if (property.key() == kCompositeKey) {
      return Fail(ErrorCode::kInvalidArgument,
                  what + ": the manager sets property " + std::string(kCompositeKey) + " itself");
    }
  }
  return Ok();
}

}  // namespace

Result<std::string> Manager::AddComposite(manifest::v1::CompositeSpec spec) {
  TRELLIS_TRY(CheckSpec(spec));
  for (const auto& composite : composites_) {
    if (composite.spec.name() == spec.name()) {
      return Fail(ErrorCode::kAlreadyExists,
                  "a composite named '" + spec.name() + "' is already declared");
    }
  }
  composites_.push_back(Composite{.spec = std::move(spec)});
  AssembleComposites();
  return composites_.back().node_path;
}

void Manager::AssembleComposites() {
  if (shutting_down_) return;
  for (auto& composite : composites_) {
    if (!composite.node_path.empty()) continue;
    // Each parent spec takes the first bound node (in path order) that
    // matches it and serves no other parent of this composite.
    std::vector<Node*> matched;
    std::set<const Node*> used;
    for (const auto& parent : composite.spec.parents()) {
      Node* found = nullptr;
      topology_.PreOrder(topology_.root(), [&](Node* node) {
        if (found != nullptr || node->state != NodeState::kBound || node->composite ||
            used.contains(node)) {
          return;
        }
        rpc::ProtoProperties properties;
        rpc::ToProto(node->properties(), &properties);
        if (MatchBindRules(parent.bind(), properties).matched) found = node;
      });
      if (found == nullptr) break;
      used.insert(found);
      matched.push_back(found);
    }
    if (matched.size() != static_cast<size_t>(composite.spec.parents_size())) continue;

    auto properties = rpc::FromProto(composite.spec.properties());
    if (!properties) continue;  // Checked when the spec was added.
    properties->push_back({kCompositeKey, composite.spec.name()});
    auto node = topology_.AddChild(matched[0], composite.spec.name(), std::move(*properties));
    if (!node) {
      std::fprintf(stderr, "trellis-manager: composite '%s' cannot be added: %s\n",
                   composite.spec.name().c_str(), node.error().message().c_str());
      continue;
    }
    Node* added = *node;
    added->composite = true;
    std::string names;
    for (size_t i = 0; i < matched.size(); ++i) {
      const std::string& name = composite.spec.parents(static_cast<int>(i)).name();
      added->composite_parents.emplace_back(name, matched[i]->path());
      for (const auto& protocol : matched[i]->exposed) {
        added->offered.push_back(name + "/" + protocol);
      }
      names += (i ? ", " : "") + name + "=" + matched[i]->path();
    }
    composite.node_path = added->path();
    Publish(TopologyEvent::KIND_NODE_ADDED, added, "composite of " + names);
    BindNode(added);
  }
}

std::vector<std::string> Manager::CompositesOf(const std::string& subtree) const {
  std::vector<std::string> paths;
  for (const auto& composite : composites_) {
    if (composite.node_path.empty()) continue;
    const Node* node = topology_.Find(composite.node_path);
    if (node == nullptr || node->state == NodeState::kRemoving) continue;
    for (const auto& [name, parent] : node->composite_parents) {
      if (parent == subtree || parent.starts_with(subtree + ".")) {
        paths.push_back(composite.node_path);
        break;
      }
    }
  }
  return paths;
}

void Manager::ForgetComposite(const std::string& node_path) {
  for (auto& composite : composites_) {
    if (composite.node_path == node_path) composite.node_path.clear();
  }
}

void Manager::RemoveCompositesOf(const std::string& parent) {
  for (const auto& path : CompositesOf(parent)) {
    Node* node = topology_.Find(path);
    if (node == nullptr) continue;
    RemoveSubtree(node, /*keep_root=*/false, [this] { AssembleComposites(); });
  }
}

}  // namespace trellis::manager
