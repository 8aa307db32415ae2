#include "tools/powerctl/plan_format.h"

#include <algorithm>
#include <chrono>
#include <string_view>

#include "tools/client/table.h"
#include "tools/powerctl/power_format.h"

namespace trellis::powerctl {

namespace {

using power::v1::SuspendPlan;

std::string_view KindName(SuspendPlan::Obstacle::Kind kind) {
  switch (kind) {
    case SuspendPlan::Obstacle::KIND_STATE:
      return "state";
    case SuspendPlan::Obstacle::KIND_LEASE:
      return "lease";
    case SuspendPlan::Obstacle::KIND_BLOCKER:
      return "blocker";
    case SuspendPlan::Obstacle::KIND_UNSPECIFIED:
      return "unspecified";
    default:
      return "unknown";
  }
}

std::string Plural(size_t n, std::string_view word) {
  return std::to_string(n) + " " + std::string(word) + (n == 1 ? "" : "s");
}

Json SecondsOrNull(const SuspendPlan& plan, const google::protobuf::Duration& duration) {
  if (plan.history() == 0) return nullptr;
  return std::chrono::duration<double>(ToNanoseconds(duration)).count();
}

}  // namespace

bool WouldRefuse(const SuspendPlan& plan) {
  return std::ranges::any_of(plan.obstacles(), [](const auto& obstacle) {
    return obstacle.kind() != SuspendPlan::Obstacle::KIND_BLOCKER;
  });
}

std::string FormatWhyNot(const SuspendPlan& plan) {
  std::string text = WouldRefuse(plan) ? "" : "nothing: a suspend would start now\n";
  for (const auto& obstacle : plan.obstacles()) text += obstacle.detail() + "\n";
  return text;
}

std::string FormatPlan(const SuspendPlan& plan) {
  std::string text = Plural(plan.steps_size(), "driver") + " in " + Plural(plan.waves(), "wave") +
                     "; system " + std::string(SystemStateName(plan.state())) +
                     ", wake generation " + std::to_string(plan.wake_generation()) + "\n";
  if (!plan.steps().empty()) {
    client::Table table({"WAVE", "NODE", "DRIVER", "HOST", "TIMEOUT", "AFTER"});
    for (const auto& step : plan.steps()) {
      table.AddRow({std::to_string(step.wave()), step.node_path(), step.driver(), step.host(),
                    DurationText(ToNanoseconds(step.suspend_timeout())),
                    client::JoinOrDash(step.waits_for())});
    }
    text += "\n" + table.Render() +
            "\nDrivers of a wave run in parallel; each starts once the "
            "drivers in AFTER are suspended. Resume runs the waves backwards.\n";
  }
  if (plan.history() == 0) {
    text += "expected: no past suspend to go by\n";
  } else {
    text += "expected: suspend " + DurationText(ToNanoseconds(plan.expected_suspend())) +
            ", resume " + DurationText(ToNanoseconds(plan.expected_resume())) +
            " (mean of the last " + Plural(plan.history(), "run") + ")\n";
  }
  text += plan.obstacles().empty() ? "nothing would refuse or delay it now\n" : "in the way now:\n";
  for (const auto& obstacle : plan.obstacles()) text += "  " + obstacle.detail() + "\n";
  return text;
}

Json ObstaclesToJson(const SuspendPlan& plan) {
  Json array = Json::array();
  for (const auto& obstacle : plan.obstacles()) {
    array.push_back(Json{
        {"kind", KindName(obstacle.kind())},
        {"detail", obstacle.detail()},
        {"lease_id", obstacle.kind() == SuspendPlan::Obstacle::KIND_LEASE
                         ? Json(obstacle.lease_id())
                         : Json(nullptr)},
    });
  }
  return array;
}

Json PlanToJson(const SuspendPlan& plan) {
  Json steps = Json::array();
  for (const auto& step : plan.steps()) {
    Json after = Json::array();
    for (const auto& path : step.waits_for()) after.push_back(path);
    steps.push_back(Json{
        {"wave", step.wave()},
        {"node", step.node_path()},
        {"driver", step.driver()},
        {"host", step.host()},
        {"suspend_timeout",
         std::chrono::duration<double>(ToNanoseconds(step.suspend_timeout())).count()},
        {"after", std::move(after)},
    });
  }
  return Json{
      {"state", SystemStateName(plan.state())},
      {"wake_generation", plan.wake_generation()},
      {"waves", plan.waves()},
      {"steps", std::move(steps)},
      {"expected_suspend", SecondsOrNull(plan, plan.expected_suspend())},
      {"expected_resume", SecondsOrNull(plan, plan.expected_resume())},
      {"history", plan.history()},
      {"obstacles", ObstaclesToJson(plan)},
  };
}

}  // namespace trellis::powerctl
