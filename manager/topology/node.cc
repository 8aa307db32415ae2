#include "manager/topology/node.h"

namespace trellis::manager {

std::string_view NodeStateName(NodeState state) {
  switch (state) {
    case NodeState::kUnbound: return "unbound";
    case NodeState::kBinding: return "binding";
    case NodeState::kBound: return "bound";
    case NodeState::kQuarantined: return "quarantined";
    case NodeState::kRemoving: return "removing";
  }
  return "unknown";
}

Node::Node(std::string name, Node* parent, NodeProperties properties)
    : name_(std::move(name)),
      path_(parent ? parent->path() + "." + name_ : name_),
      parent_(parent),
      depth_(parent ? parent->depth() + 1 : 0),
      properties_(std::move(properties)) {}

Node* Node::child(const std::string& name) const {
  auto it = children_.find(name);
  return it == children_.end() ? nullptr : it->second.get();
}

}  // namespace trellis::manager
