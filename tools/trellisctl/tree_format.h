// trellisctl's human output for nodes: the indented tree of `nodes` and the
// detail view of `show`.
#pragma once

#include <string>
#include <vector>

#include "trellis/manager/v1/manager.pb.h"
#include "trellis/node/v1/node.pb.h"

namespace trellis::tools {

// The nodes as a tree, one line each under a header:
//   NODE               STATE    DRIVER (HOST)  PROTOCOLS
//   root               unbound  -              -
//   └── sys            unbound  -              -
//       └── echo       bound    echo (host-1)  trellis.device.v1.Device
// A node hangs under the node whose path is its parent_path; nodes whose
// parent is not listed start a tree of their own. Siblings keep the
// response's order. Never loops, whatever the parent links say.
std::string FormatNodeTree(const manager::v1::ListNodesResponse& nodes);

// Paths of the nodes in `nodes` whose parent is `path`, in order.
std::vector<std::string> ChildPaths(const manager::v1::ListNodesResponse& nodes,
                                    const std::string& path);

// One node in detail, "key: value" lines: path, name, parent, state,
// driver, host, restarts, protocols, properties (one per line) and the
// paths in `children`.
std::string FormatNodeDetail(const node::v1::NodeInfo& node,
                             const std::vector<std::string>& children);

}  // namespace trellis::tools
