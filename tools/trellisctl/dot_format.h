// The node topology as a Graphviz DOT digraph, for `trellisctl graph --dot`.
#pragma once

#include <string>

#include "trellis/manager/v1/manager.pb.h"

namespace trellis::tools {

// A digraph with one vertex per node, named by its path and labelled
// "name\ndriver" (just the name when unbound), and an edge line
//   "root.sys.echo" -> "root.sys.echo.echo0";
// for every listed node whose parent is listed too. Unbound nodes are
// dashed, quarantined ones red. Strings are escaped for DOT.
std::string FormatDot(const manager::v1::ListNodesResponse& nodes);

}  // namespace trellis::tools
