// The driver and host tables.
#include "tools/trellisctl/table_format.h"

#include "tools/trellisctl/names.h"

namespace trellis::tools {

std::string FormatDrivers(const manager::v1::ListDriversResponse& drivers) {
  Table table({"NAME", "PRIORITY", "FLAGS", "GROUP", "BINARY", "NODES"});
  for (const auto& driver : drivers.drivers()) {
    std::vector<std::string> flags;
    if (driver.fallback()) flags.push_back("fallback");
    if (driver.disabled()) flags.push_back("disabled");
    table.AddRow({driver.name(), std::to_string(driver.priority()), JoinOrDash(flags),
                  driver.colocation_group().empty() ? "-" : driver.colocation_group(),
                  driver.binary(), JoinOrDash(driver.bound_nodes())});
  }
  return table.Render();
}

std::string FormatHosts(const manager::v1::ListHostsResponse& hosts) {
  Table table({"ID", "STATE", "PID", "RESTARTS", "GROUP", "NODES"});
  for (const auto& host : hosts.hosts()) {
    table.AddRow({host.host_id(), std::string(HostStateName(host.state())),
                  host.pid() == 0 ? "-" : std::to_string(host.pid()),
                  std::to_string(host.restart_count()),
                  host.colocation_group().empty() ? "-" : host.colocation_group(),
                  JoinOrDash(host.node_paths())});
  }
  return table.Render();
}

}  // namespace trellis::tools
