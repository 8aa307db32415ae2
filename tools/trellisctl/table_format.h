// The driver and host tables of trellisctl's human output, built on
// client::Table (tools/client/table.h).
#pragma once

#include <string>

#include "tools/client/table.h"
#include "trellis/host/v1/host.pb.h"
#include "trellis/manager/v1/manager.pb.h"

namespace trellis::tools {

// The table helpers are shared with powerctl and live in tools/client.
using client::DisplayWidth;
using client::JoinOrDash;
using client::Table;

// NAME PRIORITY FLAGS GROUP BINARY NODES: one row per driver.
std::string FormatDrivers(const manager::v1::ListDriversResponse& drivers);

// ID STATE PID RESTARTS GROUP NODES: one row per host.
std::string FormatHosts(const manager::v1::ListHostsResponse& hosts);

}  // namespace trellis::tools
