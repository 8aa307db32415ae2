// nodes, show and graph: ListNodes rendered as a tree, a detail view, JSON
// or DOT.
#include "tools/trellisctl/topology_commands.h"

#include <memory>
#include <string>

#include "tools/trellisctl/dot_format.h"
#include "tools/trellisctl/json_format.h"
#include "tools/trellisctl/tree_format.h"

namespace trellis::tools {

namespace {

struct SubtreeOptions {
  std::string root = "root";
  bool dot = false;
};

Result<manager::v1::ListNodesResponse> ListSubtree(const GlobalOptions& globals,
                                                   const std::string& root) {
  TRELLIS_ASSIGN_OR_RETURN(auto manager, ConnectManager(globals));
  return manager.ListNodes(root);
}

int RunNodes(const GlobalOptions& globals, const SubtreeOptions& options) {
  auto nodes = ListSubtree(globals, options.root);
  if (!nodes) return ReportError("nodes " + options.root, nodes.error());
  Print(globals.json ? DumpJson(NodesToJson(*nodes)) + "\n" : FormatNodeTree(*nodes));
  return kExitOk;
}

int RunShow(const GlobalOptions& globals, const std::string& path) {
  std::string what = "show " + path;
  auto nodes = ListSubtree(globals, path);
  if (!nodes) return ReportError(what, nodes.error());
  if (nodes->nodes().empty() || nodes->nodes(0).path() != path) {
    return ReportError(what, Error(ErrorCode::kNotFound, "the manager listed no node " + path));
  }
  const node::v1::NodeInfo& node = nodes->nodes(0);
  std::vector<std::string> children = ChildPaths(*nodes, path);
  if (globals.json) {
    Json json = NodeToJson(node);
    json["children"] = children;
    Print(DumpJson(json) + "\n");
  } else {
    Print(FormatNodeDetail(node, children));
  }
  return kExitOk;
}

int RunGraph(const GlobalOptions& globals, const SubtreeOptions& options) {
  auto nodes = ListSubtree(globals, options.root);
  if (!nodes) return ReportError("graph " + options.root, nodes.error());
  Print(options.dot ? FormatDot(*nodes) : DumpJson(NodesToJson(*nodes)) + "\n");
  return kExitOk;
}

}  // namespace

void AddTopologyCommands(CLI::App& app, const GlobalOptions& globals, Runner& run) {
  {
    auto options = std::make_shared<SubtreeOptions>();
    CLI::App* nodes = app.add_subcommand(
        "nodes", "Show the node tree: name, state, driver (host) and protocols of each node");
    nodes->add_option("ROOT", options->root, "Subtree to show")->capture_default_str();
    nodes->callback([&globals, &run, options] {
      run = [&globals, options] { return RunNodes(globals, *options); };
    });
  }
  {
    auto path = std::make_shared<std::string>();
    CLI::App* show = app.add_subcommand(
        "show", "Show one node in detail: properties, driver, host, state, protocols, restarts");
    show->add_option("NODE", *path, "Node path, e.g. root.sys.echo")->required();
    show->callback([&globals, &run, path] {
      run = [&globals, path] { return RunShow(globals, *path); };
    });
  }
  {
    auto options = std::make_shared<SubtreeOptions>();
    CLI::App* graph = app.add_subcommand(
        "graph", "Print the topology: JSON as `nodes --json`, or Graphviz DOT with --dot");
    graph->add_option("ROOT", options->root, "Subtree to show")->capture_default_str();
    graph->add_flag("--dot", options->dot,
                    "Graphviz DOT (edges parent -> child), e.g. | dot -Tsvg > tree.svg");
    graph->callback([&globals, &run, options] {
      run = [&globals, options] { return RunGraph(globals, *options); };
    });
  }
}

}  // namespace trellis::tools
