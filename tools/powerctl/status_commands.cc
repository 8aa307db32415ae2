// status, leases, stats and watch.
#include "tools/powerctl/status_commands.h"

#include <grpcpp/grpcpp.h>

#include "runtime/rpc/status.h"
#include "tools/client/internal/channel.h"
#include "tools/powerctl/power_format.h"
#include "tools/powerctl/power_json.h"
#include "tools/powerctl/stats_format.h"

namespace trellis::powerctl {

namespace {

int RunStatus(const GlobalOptions& globals, const Io& io) {
  auto power = ConnectPower(globals);
  if (!power) return ReportError(io, globals, power.error());
  auto status = power->Status();
  if (!status) return ReportError(io, globals, status.error());
  Print(io, globals.json ? DumpJson(StatusToJson(*status)) + "\n"
                         : FormatStatus(*status, Clock::now()));
  return kExitOk;
}

int RunLeases(const GlobalOptions& globals, const Io& io, bool tree) {
  auto power = ConnectPower(globals);
  if (!power) return ReportError(io, globals, power.error());
  auto leases = power->ListLeases();
  if (!leases) return ReportError(io, globals, leases.error());
  Print(io, globals.json ? DumpJson(LeasesToJson(leases->leases())) + "\n"
                  : tree ? FormatLeaseTree(leases->leases(), Clock::now())
                         : FormatLeases(leases->leases(), Clock::now()));
  return kExitOk;
}

int RunStats(const GlobalOptions& globals, const Io& io) {
  auto power = ConnectPower(globals);
  if (!power) return ReportError(io, globals, power.error());
  auto stats = power->Stats();
  if (!stats) return ReportError(io, globals, stats.error());
  Print(io, globals.json ? DumpJson(StatsToJson(*stats)) + "\n" : FormatStats(*stats));
  return kExitOk;
}

int RunWatch(const GlobalOptions& globals, const Io& io) {
  auto power = ConnectPower(globals);
  if (!power) return ReportError(io, globals, power.error());
  grpc::ClientContext context;
  auto timeout = globals.timeout_given ? CallTimeout(globals) : std::nullopt;
  if (timeout) client::internal::SetTimeout(context, *timeout);
  auto reader = power->stub().Watch(&context, {});
  power::v1::PowerEvent event;
  while (reader->Read(&event)) {
    Print(io, globals.json ? DumpJson(EventToJson(event), false) + "\n" : FormatEvent(event));
  }
  grpc::Status status = reader->Finish();
  // The manager ending the stream, or the watch running for --timeout, is
  // the normal end.
  if (status.ok() || (timeout && status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED)) {
    return kExitOk;
  }
  return ReportError(io, globals, rpc::FromStatus(status, "Power.Watch"));
}

}  // namespace

void AddStatusCommands(CLI::App& app, const GlobalOptions& globals, const Io& io, Runner& run) {
  app.add_subcommand("status", "Show the power state, since when, the wake generation and held "
                               "wake leases")
      ->callback([&globals, &io, &run] { run = [&globals, &io] { return RunStatus(globals, io); }; });
  {
    auto tree = std::make_shared<bool>(false);
    CLI::App* leases =
        app.add_subcommand("leases", "List held wake leases: id, name, holder, pid, uid, age");
    leases->add_flag("--tree", *tree,
                     "Show each lease under the lease it derives from (wake vector → driver → "
                     "client)");
    leases->callback([&globals, &io, &run, tree] {
      run = [&globals, &io, tree] { return RunLeases(globals, io, *tree); };
    });
  }
  app.add_subcommand("stats", "Show suspend statistics (like /sys/power/suspend_stats)")
      ->callback([&globals, &io, &run] { run = [&globals, &io] { return RunStats(globals, io); }; });
  app.add_subcommand("watch",
                     "Print power state transitions as they happen, until Ctrl-C (or for "
                     "--timeout, if given); with --json one object per line")
      ->callback([&globals, &io, &run] { run = [&globals, &io] { return RunWatch(globals, io); }; });
}

}  // namespace trellis::powerctl
