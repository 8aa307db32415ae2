// Table rendering and the driver / host tables.
#include "tools/trellisctl/table_format.h"

#include <algorithm>

#include "tools/trellisctl/names.h"

namespace trellis::tools {

size_t DisplayWidth(std::string_view text) {
  // Continuation bytes (10xxxxxx) do not start a code point.
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xc0) != 0x80;
  }));
}

std::string Table::Render() const {
  std::vector<size_t> widths;
  for (const auto& row : rows_) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], DisplayWidth(row[i]));
  }
  std::string out;
  for (const auto& row : rows_) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      if (i > 0) line += "  ";
      line += row[i];
      if (i + 1 < row.size()) line.append(widths[i] - DisplayWidth(row[i]), ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

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
