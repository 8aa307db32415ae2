// FormatDot: Graphviz output of the node tree.
#include "tools/trellisctl/dot_format.h"

#include <unordered_set>

namespace trellis::tools {

namespace {

// A DOT double-quoted string. Quotes and backslashes are escaped, line
// breaks become \n (a centred line break in labels), other control
// characters are dropped.
std::string Quoted(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) >= 0x20) {
      out += c;
    }
  }
  return out + "\"";
}

std::string Attributes(const node::v1::NodeInfo& node) {
  // Label lines are joined with a literal \n, which DOT reads as a break.
  std::string label = Quoted(node.name());
  if (!node.bound_driver().empty()) {
    label = label.substr(0, label.size() - 1) + "\\n" + Quoted(node.bound_driver()).substr(1);
  }
  std::string attributes = "label=" + label;
  switch (node.state()) {
    case node::v1::NODE_STATE_BOUND: break;
    case node::v1::NODE_STATE_QUARANTINED: attributes += ", color=red, fontcolor=red"; break;
    default: attributes += ", style=dashed"; break;
  }
  return attributes;
}

}  // namespace

std::string FormatDot(const manager::v1::ListNodesResponse& nodes) {
  std::unordered_set<std::string> listed;
  for (const auto& node : nodes.nodes()) listed.insert(node.path());
  std::string out = "digraph trellis {\n  node [shape=box];\n";
  for (const auto& node : nodes.nodes()) {
    out += "  " + Quoted(node.path()) + " [" + Attributes(node) + "];\n";
  }
  for (const auto& node : nodes.nodes()) {
    if (node.parent_path().empty() || !listed.contains(node.parent_path())) continue;
    out += "  " + Quoted(node.parent_path()) + " -> " + Quoted(node.path()) + ";\n";
  }
  return out + "}\n";
}

}  // namespace trellis::tools
