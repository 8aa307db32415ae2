// The node tree and node detail views.
#include "tools/trellisctl/tree_format.h"

#include <unordered_map>
#include <unordered_set>

#include "tools/trellisctl/names.h"
#include "tools/trellisctl/table_format.h"

namespace trellis::tools {

namespace {

// Children of each listed path, by index into the response.
class TreeIndex {
 public:
  explicit TreeIndex(const manager::v1::ListNodesResponse& nodes) {
    for (int i = 0; i < nodes.nodes_size(); ++i) paths_.insert(nodes.nodes(i).path());
    for (int i = 0; i < nodes.nodes_size(); ++i) {
      children_[nodes.nodes(i).parent_path()].push_back(i);
    }
  }

  bool IsListed(const std::string& path) const { return paths_.contains(path); }

  const std::vector<int>& ChildrenOf(const std::string& path) const {
    static const std::vector<int> kNone;
    auto it = children_.find(path);
    return it == children_.end() ? kNone : it->second;
  }

 private:
  std::unordered_set<std::string> paths_;
  std::unordered_map<std::string, std::vector<int>> children_;
};

std::string DriverAndHost(const node::v1::NodeInfo& node) {
  if (node.bound_driver().empty()) return "-";
  if (node.host().empty()) return node.bound_driver();
  return node.bound_driver() + " (" + node.host() + ")";
}

// Adds node `i` and, depth first, its children. `lead` is what precedes
// the node's name ("├── " and the rails of its ancestors); `rails` is what
// precedes its children's connectors.
void AddSubtree(const manager::v1::ListNodesResponse& nodes, const TreeIndex& index, int i,
                const std::string& lead, const std::string& rails, std::vector<bool>& visited,
                Table& table) {
  visited[i] = true;
  const node::v1::NodeInfo& node = nodes.nodes(i);
  table.AddRow({lead + node.name(), std::string(NodeStateName(node.state())), DriverAndHost(node),
                JoinOrDash(node.protocols())});
  std::vector<int> children;
  for (int child : index.ChildrenOf(node.path())) {
    if (!visited[child]) children.push_back(child);
  }
  for (size_t k = 0; k < children.size(); ++k) {
    if (visited[children[k]]) continue;  // Reached by another route meanwhile.
    bool last = k + 1 == children.size();
    AddSubtree(nodes, index, children[k], rails + (last ? "└── " : "├── "),
               rails + (last ? "    " : "│   "), visited, table);
  }
}

}  // namespace

std::string FormatNodeTree(const manager::v1::ListNodesResponse& nodes) {
  TreeIndex index(nodes);
  Table table({"NODE", "STATE", "DRIVER (HOST)", "PROTOCOLS"});
  std::vector<bool> visited(nodes.nodes_size(), false);
  // Roots first, then whatever a broken parent link left unreached.
  for (int i = 0; i < nodes.nodes_size(); ++i) {
    if (!visited[i] && !index.IsListed(nodes.nodes(i).parent_path())) {
      AddSubtree(nodes, index, i, "", "", visited, table);
    }
  }
  for (int i = 0; i < nodes.nodes_size(); ++i) {
    if (!visited[i]) AddSubtree(nodes, index, i, "", "", visited, table);
  }
  return table.Render();
}

std::vector<std::string> ChildPaths(const manager::v1::ListNodesResponse& nodes,
                                    const std::string& path) {
  std::vector<std::string> children;
  for (const auto& node : nodes.nodes()) {
    if (node.parent_path() == path && node.path() != path) children.push_back(node.path());
  }
  return children;
}

std::string FormatNodeDetail(const node::v1::NodeInfo& node,
                             const std::vector<std::string>& children) {
  auto or_dash = [](const std::string& s) { return s.empty() ? std::string("-") : s; };
  std::string out;
  out += "path:       " + node.path() + "\n";
  out += "name:       " + node.name() + "\n";
  out += "parent:     " + or_dash(node.parent_path()) + "\n";
  out += "state:      " + std::string(NodeStateName(node.state())) + "\n";
  out += "driver:     " + or_dash(node.bound_driver()) + "\n";
  out += "host:       " + or_dash(node.host()) + "\n";
  out += "restarts:   " + std::to_string(node.restart_count()) + "\n";
  out += "protocols:  " + JoinOrDash(node.protocols()) + "\n";
  if (node.has_backend()) out += "backend:    " + BackendText(node.backend()) + "\n";
  if (node.properties().empty()) {
    out += "properties: -\n";
  } else {
    out += "properties:\n";
    for (const auto& property : node.properties()) {
      out += "  " + property.key() + " = " + PropertyValueText(property) + "\n";
    }
  }
  out += "children:   " + JoinOrDash(children) + "\n";
  return out;
}

}  // namespace trellis::tools
