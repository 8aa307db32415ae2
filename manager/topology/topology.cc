#include "manager/topology/topology.h"

#include <set>

namespace trellis::manager {

Result<void> ValidateNodeName(std::string_view name) {
  if (name.empty()) return Fail(ErrorCode::kInvalidArgument, "node name is empty");
  if (name.size() > 63) {
    return Fail(ErrorCode::kInvalidArgument,
                "node name '" + std::string(name) + "' is longer than 63 characters");
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) {
      return Fail(ErrorCode::kInvalidArgument,
                  "node name '" + std::string(name) + "' may only hold letters, digits, '_' and '-'");
    }
  }
  return Ok();
}

Result<void> ValidateProperties(const NodeProperties& properties) {
  if (properties.size() > Topology::kMaxProperties) {
    return Fail(ErrorCode::kInvalidArgument,
                std::to_string(properties.size()) + " properties; at most " +
                    std::to_string(Topology::kMaxProperties) + " are allowed");
  }
  std::set<std::string_view> seen;
  for (const auto& p : properties) {
    if (p.key.empty()) return Fail(ErrorCode::kInvalidArgument, "a property has an empty key");
    if (!seen.insert(p.key).second) {
      return Fail(ErrorCode::kInvalidArgument, "duplicate property key '" + p.key + "'");
    }
  }
  return Ok();
}

Topology::Topology() : root_(std::make_unique<Node>("root", nullptr, NodeProperties{})) {
  by_path_.emplace(root_->path(), root_.get());
}

Node* Topology::Find(std::string_view path) const {
  auto it = by_path_.find(path);
  return it == by_path_.end() ? nullptr : it->second;
}

Result<Node*> Topology::AddChild(Node* parent, std::string name, NodeProperties properties) {
  TRELLIS_TRY(ValidateNodeName(name));
  TRELLIS_TRY(ValidateProperties(properties), "node '" + name + "'");
  if (parent->child(name) != nullptr) {
    return Fail(ErrorCode::kAlreadyExists,
                "node " + parent->path() + " already has a child named '" + name + "'");
  }
  if (parent->depth() + 1 > kMaxDepth) {
    return Fail(ErrorCode::kResourceExhausted,
                "runaway depth: adding '" + name + "' under " + parent->path() +
                    " would pass the maximum depth of " + std::to_string(kMaxDepth));
  }
  auto node = std::make_unique<Node>(name, parent, std::move(properties));
  Node* raw = node.get();
  by_path_.emplace(raw->path(), raw);
  parent->children_.emplace(std::move(name), std::move(node));
  ++size_;
  return raw;
}

void Topology::Remove(Node* node) {
  if (node == nullptr || node->parent() == nullptr) return;
  size_t removed = 0;
  PreOrder(node, [&](Node* gone) {
    by_path_.erase(gone->path());
    ++removed;
  });
  size_ -= removed;
  node->parent()->children_.erase(node->name());
}

void Topology::PreOrder(Node* from, const std::function<void(Node*)>& visit) const {
  visit(from);
  for (const auto& [name, child] : from->children()) PreOrder(child.get(), visit);
}

void Topology::PostOrder(Node* from, const std::function<void(Node*)>& visit) const {
  for (const auto& [name, child] : from->children()) PostOrder(child.get(), visit);
  visit(from);
}

}  // namespace trellis::manager
