// The text and JSON of Power.PlanSuspend's reply, for `powerctl suspend
// --plan` (the whole plan) and `powerctl why-not` (only what would refuse
// a suspend now).
#pragma once

#include <string>

#include "tools/powerctl/power_json.h"
#include "trellis/power/v1/power.pb.h"

namespace trellis::powerctl {

// A header line ("7 drivers in 3 waves; system running, wake generation
// 4"), one table of WAVE NODE DRIVER HOST TIMEOUT AFTER rows, the expected
// times ("expected: suspend 12ms, resume 8ms (mean of the last 5 runs)"),
// then the obstacles under "in the way now:".
std::string FormatPlan(const power::v1::SuspendPlan& plan);

// Whether an obstacle other than a suspend blocker (which only delays) is
// in the way.
bool WouldRefuse(const power::v1::SuspendPlan& plan);

// One line per obstacle, after "nothing: a suspend would start now" if
// none of them refuses it.
std::string FormatWhyNot(const power::v1::SuspendPlan& plan);

// {"state", "wake_generation", "waves", "steps": [{"wave", "node",
//  "driver", "host", "suspend_timeout", "after": [...]}], "expected_suspend",
//  "expected_resume", "history", "obstacles": [...]}; expected times are
// null without history.
Json PlanToJson(const power::v1::SuspendPlan& plan);

// [{"kind": "state"|"lease"|"blocker", "detail", "lease_id"}], lease_id
// null but for a lease.
Json ObstaclesToJson(const power::v1::SuspendPlan& plan);

}  // namespace trellis::powerctl
