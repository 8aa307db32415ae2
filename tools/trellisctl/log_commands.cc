#include "tools/trellisctl/log_commands.h"

#include <google/protobuf/util/time_util.h>

#include <cstdio>
#include <ctime>
#include <memory>

#include "runtime/rpc/status.h"
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

}  // namespace

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
