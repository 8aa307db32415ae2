#include "tools/powerctl/plan_commands.h"

#include "tools/powerctl/plan_format.h"

namespace trellis::powerctl {

namespace {

Result<power::v1::SuspendPlan> FetchPlan(const GlobalOptions& globals) {
  TRELLIS_ASSIGN_OR_RETURN(auto power, ConnectPower(globals));
  return power.PlanSuspend();
}

int RunWhyNot(const GlobalOptions& globals, const Io& io) {
  auto plan = FetchPlan(globals);
  if (!plan) return ReportError(io, globals, plan.error());
  Print(io, globals.json ? DumpJson(ObstaclesToJson(*plan)) + "\n" : FormatWhyNot(*plan));
  return WouldRefuse(*plan) ? kExitFailed : kExitOk;
}

}  // namespace

int RunPlan(const GlobalOptions& globals, const Io& io) {
  auto plan = FetchPlan(globals);
  if (!plan) return ReportError(io, globals, plan.error());
  Print(io, globals.json ? DumpJson(PlanToJson(*plan)) + "\n" : FormatPlan(*plan));
  return kExitOk;
}

void AddPlanCommands(CLI::App& app, const GlobalOptions& globals, const Io& io, Runner& run) {
  app.add_subcommand("why-not",
                     "Say in one line each why a suspend would be refused now; exit 0 if "
                     "nothing would refuse it, 1 otherwise")
      ->callback(
          [&globals, &io, &run] { run = [&globals, &io] { return RunWhyNot(globals, io); }; });
}

}  // namespace trellis::powerctl
