// drivers, hosts and restart.
#include "tools/trellisctl/inventory_commands.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tools/client/duration.h"
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

struct RestartOptions {
  std::string host_id;
  std::string wait = "10s";
};

// The host listed as `host_id`, if any.
Result<std::optional<host::v1::HostInfo>> FindHost(client::ManagerClient& manager,
                                                   const std::string& host_id) {
  TRELLIS_ASSIGN_OR_RETURN(auto hosts, manager.ListHosts());
  for (const auto& host : hosts.hosts()) {
    if (host.host_id() == host_id) return host;
  }
  return std::nullopt;
}

// Whether the restart of `before` is over: the id is gone (its nodes went
// to a new host), runs again as a new process, or was quarantined.
bool RestartSettled(const host::v1::HostInfo& before, const std::optional<host::v1::HostInfo>& now) {
  if (!now) return true;
  if (now->state() == host::v1::HOST_STATE_QUARANTINED) return true;
  return now->state() == host::v1::HOST_STATE_RUNNING && now->pid() != before.pid();
}

// Polls until the restart of `before` settled and its nodes are bound, or
// `wait` passed; returns the last state of those nodes (a node that is
// gone has only its path set).
Result<std::vector<node::v1::NodeInfo>> WaitForRebind(client::ManagerClient& manager,
                                                      const host::v1::HostInfo& before,
                                                      std::chrono::milliseconds wait) {
  using Clock = std::chrono::steady_clock;
  auto deadline = Clock::now() + wait;
  while (true) {
    TRELLIS_ASSIGN_OR_RETURN(auto host, FindHost(manager, before.host_id()));
    TRELLIS_ASSIGN_OR_RETURN(auto listed, manager.ListNodes("root"));
    std::vector<node::v1::NodeInfo> nodes;
    bool done = RestartSettled(before, host);
    for (const std::string& path : before.node_paths()) {
      auto it = std::find_if(listed.nodes().begin(), listed.nodes().end(),
                             [&](const node::v1::NodeInfo& node) { return node.path() == path; });
      node::v1::NodeInfo node;
      if (it == listed.nodes().end()) {
        node.set_path(path);
      } else {
        node = *it;
      }
      done = done && node.state() == node::v1::NODE_STATE_BOUND;
      nodes.push_back(std::move(node));
    }
    if (done || Clock::now() >= deadline) return nodes;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

int RunRestart(const GlobalOptions& globals, const RestartOptions& options) {
  std::string what = "restart " + options.host_id;
  auto wait = client::ParseDuration(options.wait);  // Checked by the validator already.
  if (!wait) return ReportError(what, wait.error());
  auto manager = ConnectManager(globals);
  if (!manager) return ReportError(what, manager.error());
  auto before = FindHost(*manager, options.host_id);
  if (!before) return ReportError(what, before.error());
  auto restarted = manager->RestartHost(options.host_id);
  if (!restarted) return ReportError(what, restarted.error());
  Result<std::vector<node::v1::NodeInfo>> nodes = std::vector<node::v1::NodeInfo>();
  if (wait->count() > 0 && *before) nodes = WaitForRebind(*manager, **before, *wait);
  if (!nodes) return ReportError(what + " (waiting for its nodes)", nodes.error());

  bool all_bound = std::all_of(nodes->begin(), nodes->end(), [](const node::v1::NodeInfo& node) {
    return node.state() == node::v1::NODE_STATE_BOUND;
  });
  if (globals.json) {
    Json json = {{"host", HostToJson(restarted->host())}, {"nodes", Json::array()}};
    for (const auto& node : *nodes) json["nodes"].push_back(NodeToJson(node));
    Print(DumpJson(json) + "\n");
  } else {
    std::string text = "restarted " + options.host_id + "\n";
    for (const auto& node : *nodes) {
      text += "  " + node.path() + ": " + std::string(NodeStateName(node.state())) +
              (node.host().empty() ? "" : " on " + node.host()) + "\n";
    }
    Print(text);
  }
  if (!all_bound) {
    return ReportError(what, Error(ErrorCode::kDeadlineExceeded,
                                   "not all of its nodes were bound again within " + options.wait));
  }
  return kExitOk;
}

}  // namespace

void AddInventoryCommands(CLI::App& app, const GlobalOptions& globals, Runner& run) {
  app.add_subcommand("drivers", "List loaded drivers: priority, flags, binary, bound nodes")
      ->callback([&globals, &run] { run = [&globals] { return RunDrivers(globals); }; });
  app.add_subcommand("hosts", "List driver hosts: state, pid, restarts, nodes")
      ->callback([&globals, &run] { run = [&globals] { return RunHosts(globals); }; });
  auto options = std::make_shared<RestartOptions>();
  CLI::App* restart = app.add_subcommand(
      "restart",
      "Restart a driver host (also clears quarantine); wait until its nodes are bound again "
      "and show where they run");
  restart->add_option("HOST", options->host_id, "Host id, as `trellisctl hosts` shows it")
      ->required();
  restart->add_option("--wait", options->wait,
                      "How long to wait for the nodes to be bound again (0: do not wait); "
                      "fails if they are not")
      ->check(client::DurationValidator())
      ->type_name("DURATION")
      ->capture_default_str();
  restart->callback([&globals, &run, options] {
    run = [&globals, options] { return RunRestart(globals, *options); };
  });
}

}  // namespace trellis::tools
