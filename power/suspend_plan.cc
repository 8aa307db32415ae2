#include "power/suspend_plan.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>

namespace trellis::power {

std::vector<v1::SuspendPlan::Step> PlanSteps(const std::vector<Target>& targets) {
  const size_t n = targets.size();
  std::vector<uint32_t> wave(n, 1);
  std::vector<std::vector<std::string>> children(n);
  // Children come after their parents: walking backwards sees every child
  // before its parent.
  for (size_t i = n; i-- > 0;) {
    const int parent = targets[i].parent;
    if (parent < 0 || static_cast<size_t>(parent) >= n) continue;
    wave[parent] = std::max(wave[parent], wave[i] + 1);
    children[parent].push_back(targets[i].node_path);
  }
  std::vector<v1::SuspendPlan::Step> steps(n);
  for (size_t i = 0; i < n; ++i) {
    auto& step = steps[i];
    step.set_node_path(targets[i].node_path);
    step.set_driver(targets[i].driver);
    step.set_host(targets[i].host_id);
    step.set_wave(wave[i]);
    std::ranges::sort(children[i]);
    for (auto& child : children[i]) step.add_waits_for(std::move(child));
    *step.mutable_suspend_timeout() = google::protobuf::util::TimeUtil::MillisecondsToDuration(
        targets[i].suspend_timeout.count());
  }
  std::ranges::sort(steps, [](const auto& a, const auto& b) {
    if (a.wave() != b.wave()) return a.wave() < b.wave();
    return a.node_path() < b.node_path();
  });
  return steps;
}

}  // namespace trellis::power
