// The waves of a system suspend (Power.PlanSuspend): which drivers suspend
// in which order, computed from the same targets and parent links the
// governor walks, so the plan is the order the next suspend takes.
#pragma once

#include <vector>

#include "power/governor.h"
#include "trellis/power/v1/power.pb.h"

namespace trellis::power {

// One step per target, ordered by wave, then by node path. `targets` come
// parents before children (Platform::PowerTargets). A target with no
// power-managed children is in wave 1; any other in the wave after its
// latest child's — it starts once all its children are suspended.
std::vector<v1::SuspendPlan::Step> PlanSteps(const std::vector<Target>& targets);

}  // namespace trellis::power
