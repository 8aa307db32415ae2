// Node: one device node in the manager's topology (after DFv2's
// driver_manager/node.h). Owned by its parent; the root by the Topology.
// Touched only on the manager's dispatcher.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runtime/driver/properties.h"

namespace trellis::manager {

enum class NodeState { kUnbound, kBinding, kBound, kQuarantined, kRemoving };

std::string_view NodeStateName(NodeState state);

class Node {
 public:
  Node(std::string name, Node* parent, NodeProperties properties);

  const std::string& name() const { return name_; }
  const std::string& path() const { return path_; }
  Node* parent() const { return parent_; }
  const NodeProperties& properties() const { return properties_; }
  size_t depth() const { return depth_; }
  const std::map<std::string, std::unique_ptr<Node>>& children() const { return children_; }
  Node* child(const std::string& name) const;

  // Binding state.
  NodeState state = NodeState::kUnbound;
  std::string driver;           // Bound (or binding) driver's name.
  std::string host_id;          // Host running it.
  std::string token;            // Node-channel token given to the driver.
  std::vector<std::string> exposed;  // Protocols the driver serves here.
  // Protocols the parent's driver serves for this node (DFv2 offers), set
  // when that driver added it.
  std::vector<std::string> offered;
  uint32_t restarts = 0;        // Crash restarts so far (RestartHost resets it).
  uint64_t starts = 0;          // Driver starts that succeeded here, ever.
  uint64_t crashes = 0;         // Its host's crashes while bound here, ever.
  std::string last_error;       // Why the last bind or start failed.
  // Set for nodes a driver added: the node whose driver owns this one.
  bool added_by_driver = false;
  // Added with DriverManager.AddTestNode; only those may be removed by
  // RemoveTestNode.
  bool test_node = false;
  // A composite node: its parents by spec name, each a node path.
  bool composite = false;
  std::vector<std::pair<std::string, std::string>> composite_parents;

 private:
  friend class Topology;
  std::string name_;
  std::string path_;
  Node* parent_;
  size_t depth_;
  NodeProperties properties_;
  std::map<std::string, std::unique_ptr<Node>> children_;
};

}  // namespace trellis::manager
