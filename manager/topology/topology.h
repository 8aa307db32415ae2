// Topology: the tree of nodes under "root", with the rules every node obeys
// (names, properties, depth). Touched only on the manager's dispatcher.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "manager/topology/node.h"
#include "runtime/error.h"

namespace trellis::manager {

class Topology {
 public:
  static constexpr size_t kMaxDepth = 32;
  static constexpr size_t kMaxProperties = 64;

  Topology();

  Node* root() const { return root_.get(); }
  // The node at a dotted path ("root.sys.echo0"), or null. O(1): the power
  // path looks up every driver's node on each transition.
  Node* Find(std::string_view path) const;

  // Adds a child. Errors: kInvalidArgument for a missing or malformed name,
  // a property without a key, duplicate property keys or too many
  // properties; kAlreadyExists for a duplicate sibling name;
  // kResourceExhausted past kMaxDepth (the message names the chain).
  Result<Node*> AddChild(Node* parent, std::string name, NodeProperties properties);

  // Removes `node` and its subtree (not the root). Returns nothing; callers
  // stop drivers first.
  void Remove(Node* node);

  // Visits `from` and its descendants, parents before children.
  void PreOrder(Node* from, const std::function<void(Node*)>& visit) const;
  // Visits descendants before their parents (children first).
  void PostOrder(Node* from, const std::function<void(Node*)>& visit) const;

  size_t size() const { return size_; }

 private:
  // Transparent hashing, so Find(string_view) allocates nothing.
  struct PathHash {
    using is_transparent = void;
    size_t operator()(std::string_view path) const { return std::hash<std::string_view>{}(path); }
  };

  std::unique_ptr<Node> root_;
  // Every node by its path, root included; kept in step by AddChild/Remove.
  std::unordered_map<std::string, Node*, PathHash, std::equal_to<>> by_path_;
  size_t size_ = 1;
};

// Checks a node name: 1..63 of [A-Za-z0-9_-].
Result<void> ValidateNodeName(std::string_view name);
// Checks keys are present, unique and at most kMaxProperties.
Result<void> ValidateProperties(const NodeProperties& properties);

}  // namespace trellis::manager
