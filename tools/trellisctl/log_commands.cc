#include "tools/trellisctl/log_commands.h"

#include <google/protobuf/util/time_util.h>

#include <cstdio>
#include <ctime>
#include <memory>

#include "runtime/rpc/status.h"
#include "tools/client/table.h"
#include "tools/trellisctl/json_format.h"

namespace trellis::tools {

namespace {

struct LogsOptions {
  std::string node;
  std::string driver;
  uint32_t last = 50;
  bool follow = false;
};

Json LogEntryToJson(const manager::v1::LogEntry& entry) {
  return Json{{"seq", entry.seq()},
              {"time", google::protobuf::util::TimeUtil::ToString(entry.time())},
              {"host", entry.host_id()},
              {"driver", entry.driver()},
              {"node", entry.node_path()},
              {"level", entry.level()},
              {"text", entry.text()}};
}

int RunLogs(const GlobalOptions& globals, const LogsOptions& options) {
  const std::string what = "logs";
  auto manager = ConnectManager(globals);
  if (!manager) return ReportError(what, manager.error());
  grpc::ClientContext context;
  manager::v1::ReadLogsRequest request;
  request.set_node_prefix(options.node);
  request.set_driver(options.driver);
  request.set_last(options.last);
  request.set_follow(options.follow);
  auto reader = manager->stub().ReadLogs(&context, request);
  manager::v1::LogEntry entry;
  while (reader->Read(&entry)) {
    Print(globals.json ? DumpJson(LogEntryToJson(entry), false) + "\n" : FormatLogEntry(entry));
  }
  grpc::Status status = reader->Finish();
  if (!status.ok()) return ReportError(what, rpc::FromStatus(status, "ReadLogs"));
  return kExitOk;
}

Json CountersToJson(const manager::v1::InspectResponse& inspect) {
  Json drivers = Json::array();
  for (const auto& d : inspect.drivers()) {
    auto latency = [](const power::v1::LatencyHistogram& h) {
      return Json{{"count", h.count()}, {"last_us", h.last_us()}, {"max_us", h.max_us()},
                  {"median_us", h.median_us()}};
    };
    drivers.push_back(Json{{"node", d.node_path()},
                           {"driver", d.driver()},
                           {"host", d.host_id()},
                           {"starts", d.starts()},
                           {"crashes", d.crashes()},
                           {"client_calls", d.client_calls()},
                           {"log_warnings", d.log_warnings()},
                           {"log_errors", d.log_errors()},
                           {"suspend", latency(d.suspend())},
                           {"resume", latency(d.resume())}});
  }
  return drivers;
}

int RunStats(const GlobalOptions& globals, const std::string& node) {
  const std::string what = "stats";
  auto manager = ConnectManager(globals);
  if (!manager) return ReportError(what, manager.error());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  manager::v1::InspectRequest request;
  request.set_node_prefix(node);
  manager::v1::InspectResponse response;
  grpc::Status status = manager->stub().Inspect(&context, request, &response);
  if (!status.ok()) return ReportError(what, rpc::FromStatus(status, "Inspect"));
  Print(globals.json ? DumpJson(CountersToJson(response)) + "\n" : FormatDriverCounters(response));
  return kExitOk;
}

}  // namespace

std::string FormatDriverCounters(const manager::v1::InspectResponse& inspect) {
  client::Table table({"NODE", "DRIVER", "HOST", "STARTS", "CRASHES", "CALLS", "WARN", "ERR",
                       "SUSPEND LAST/MAX", "RESUME LAST/MAX"});
  auto times = [](const power::v1::LatencyHistogram& h) -> std::string {
    if (h.count() == 0) return "-";
    auto ms = [](uint64_t us) {
      char text[32];
      std::snprintf(text, sizeof(text), "%.1f", static_cast<double>(us) / 1000.0);
      return std::string(text);
    };
    return ms(h.last_us()) + "/" + ms(h.max_us()) + " ms";
  };
  for (const auto& d : inspect.drivers()) {
    table.AddRow({d.node_path(), d.driver(), d.host_id(), std::to_string(d.starts()),
                  std::to_string(d.crashes()), std::to_string(d.client_calls()),
                  std::to_string(d.log_warnings()), std::to_string(d.log_errors()),
                  times(d.suspend()), times(d.resume())});
  }
  return table.Render();
}

std::string FormatLogEntry(const manager::v1::LogEntry& entry) {
  int64_t millis = google::protobuf::util::TimeUtil::TimestampToMilliseconds(entry.time());
  time_t seconds = static_cast<time_t>(millis / 1000);
  tm local{};
  localtime_r(&seconds, &local);
  char clock[32];
  std::snprintf(clock, sizeof(clock), "%02d:%02d:%02d.%03d", local.tm_hour, local.tm_min,
                local.tm_sec, static_cast<int>(millis % 1000));
  std::string who = entry.driver().empty() ? entry.host_id()
                                           : entry.driver() + "@" + entry.node_path();
  char level[16];
  std::snprintf(level, sizeof(level), "%-7s", entry.level().c_str());
  return std::string(clock) + " " + level + " " + who + ": " + entry.text() + "\n";
}

void AddLogCommands(CLI::App& app, const GlobalOptions& globals, Runner& run) {
  {
    auto node = std::make_shared<std::string>();
    CLI::App* stats = app.add_subcommand(
        "stats", "Per-driver counters: starts, crashes, client calls, warnings and errors "
                 "logged, suspend and resume times");
    stats->add_option("--node", *node, "Only this node and its descendants");
    stats->callback([&globals, &run, node] {
      run = [&globals, node] { return RunStats(globals, *node); };
    });
  }
  auto options = std::make_shared<LogsOptions>();
  CLI::App* logs = app.add_subcommand(
      "logs", "The driver hosts' recent log: what drivers logged, by node, driver and level");
  logs->add_option("--node", options->node, "Only this node and its descendants");
  logs->add_option("--driver", options->driver, "Only this driver");
  logs->add_option("-n,--last", options->last, "How many past entries (0: all the manager keeps)")
      ->capture_default_str();
  logs->add_flag("-f,--follow", options->follow, "Keep printing new entries until Ctrl-C");
  logs->callback([&globals, &run, options] {
    run = [&globals, options] { return RunLogs(globals, *options); };
  });
}

}  // namespace trellis::tools
