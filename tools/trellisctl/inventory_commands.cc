// drivers, hosts and restart.
#include "tools/trellisctl/inventory_commands.h"

#include <memory>
#include <string>

#include "tools/trellisctl/json_format.h"
#include "tools/trellisctl/names.h"
#include "tools/trellisctl/table_format.h"

namespace trellis::tools {

namespace {

int RunDrivers(const GlobalOptions& globals) {
  auto manager = ConnectManager(globals);
  if (!manager) return ReportError("drivers", manager.error());
  auto drivers = manager->ListDrivers();
  if (!drivers) return ReportError("drivers", drivers.error());
  Print(globals.json ? DumpJson(DriversToJson(*drivers)) + "\n" : FormatDrivers(*drivers));
  return kExitOk;
}

int RunHosts(const GlobalOptions& globals) {
  auto manager = ConnectManager(globals);
  if (!manager) return ReportError("hosts", manager.error());
  auto hosts = manager->ListHosts();
  if (!hosts) return ReportError("hosts", hosts.error());
  Print(globals.json ? DumpJson(HostsToJson(*hosts)) + "\n" : FormatHosts(*hosts));
  return kExitOk;
}

int RunRestart(const GlobalOptions& globals, const std::string& host_id) {
  std::string what = "restart " + host_id;
  auto manager = ConnectManager(globals);
  if (!manager) return ReportError(what, manager.error());
  auto restarted = manager->RestartHost(host_id);
  if (!restarted) return ReportError(what, restarted.error());
  const host::v1::HostInfo& host = restarted->host();
  if (globals.json) {
    Print(DumpJson(HostToJson(host)) + "\n");
  } else {
    Print("restarted " + host.host_id() + ": " + std::string(HostStateName(host.state())) +
          ", pid " + (host.pid() == 0 ? std::string("-") : std::to_string(host.pid())) +
          ", restarts " + std::to_string(host.restart_count()) + ", nodes " +
          JoinOrDash(host.node_paths()) + "\n");
  }
  return kExitOk;
}

}  // namespace

void AddInventoryCommands(CLI::App& app, const GlobalOptions& globals, Runner& run) {
  app.add_subcommand("drivers", "List loaded drivers: priority, flags, binary, bound nodes")
      ->callback([&globals, &run] { run = [&globals] { return RunDrivers(globals); }; });
  app.add_subcommand("hosts", "List driver hosts: state, pid, restarts, nodes")
      ->callback([&globals, &run] { run = [&globals] { return RunHosts(globals); }; });
  auto host_id = std::make_shared<std::string>();
  CLI::App* restart = app.add_subcommand(
      "restart", "Restart a driver host and rebind its nodes (also clears quarantine)");
  restart->add_option("HOST", *host_id, "Host id, as `trellisctl hosts` shows it")->required();
  restart->callback([&globals, &run, host_id] {
    run = [&globals, host_id] { return RunRestart(globals, *host_id); };
  });
}

}  // namespace trellis::tools
