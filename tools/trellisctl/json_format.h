// trellisctl's machine-readable output: nlohmann JSON for nodes, drivers,
// hosts and upcalls. Keys keep the order written here (ordered_json).
//
// A node is
//   {"path": "root.sys.echo", "name": "echo", "parent": "root.sys",
//    "state": "bound", "driver": "echo", "host": "host-1",
//    "protocols": ["trellis.device.v1.Device"], "restarts": 0,
//    "properties": {"trellis.compatible": "trellis,echo", "echo.depth": 2}}
// with null for an absent parent, driver or host, and property values as
// JSON numbers, strings or booleans (null if unset).
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "trellis/device/v1/device.pb.h"
#include "trellis/host/v1/host.pb.h"
#include "trellis/manager/v1/manager.pb.h"
#include "trellis/node/v1/node.pb.h"

namespace trellis::tools {

using Json = nlohmann::ordered_json;

// One node object, as described above.
Json NodeToJson(const node::v1::NodeInfo& node);
// An array of node objects in the response's order (parents first).
Json NodesToJson(const manager::v1::ListNodesResponse& nodes);

// {"name", "binary", "priority", "fallback", "disabled", "colocation_group",
//  "bound_nodes": [...]}; colocation_group null if empty.
Json DriverToJson(const manager::v1::DriverInfo& driver);
Json DriversToJson(const manager::v1::ListDriversResponse& drivers);

// {"id", "state", "pid", "restarts", "colocation_group", "nodes": [...]};
// pid null when not running, colocation_group null if empty.
Json HostToJson(const host::v1::HostInfo& host);
Json HostsToJson(const manager::v1::ListHostsResponse& hosts);

// {"minor", "arg0", "arg1", "arg2"}.
Json UpcallToJson(const device::v1::Upcall& upcall);

// Serialises `json`: indented by two spaces if `pretty`, else on one line.
// Invalid UTF-8 in strings (from driver-chosen names) is replaced, never
// thrown.
std::string DumpJson(const Json& json, bool pretty = true);

}  // namespace trellis::tools
