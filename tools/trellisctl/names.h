// Display names of proto enums and values shared by all of trellisctl's
// output formats ("bound", "running", "trellis,echo").
#pragma once

#include <string>
#include <string_view>

#include "trellis/host/v1/host.pb.h"
#include "trellis/node/v1/node.pb.h"

namespace trellis::tools {

// "bound", "unbound", "binding", "quarantined", "removing"; "unspecified"
// for 0 and "unknown" for a value newer than this tool.
std::string_view NodeStateName(node::v1::NodeState state);

// "starting", "running", "crashed", "restarting", "stopping", "stopped",
// "quarantined"; "unspecified" / "unknown" as for NodeStateName.
std::string_view HostStateName(host::v1::HostState state);

// "starting", "running", "restarting", "failed", "stopped"; "unspecified" /
// "unknown" as for NodeStateName.
std::string_view BackendStateName(node::v1::BackendState state);

// A node's backend on one line: "running, pid 4242, 1 restart, socket
// /run/trellis/disk.sock" (", last: exited with status 1" once one ended).
std::string BackendText(const node::v1::BackendStatus& backend);

// A property value as text: integers in decimal, strings quoted with C
// escapes ("\"trellis,echo\""), booleans as true/false, "<unset>" if empty.
std::string PropertyValueText(const node::v1::NodeProperty& property);

}  // namespace trellis::tools
