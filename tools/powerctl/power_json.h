// powerctl's machine-readable output (--json): nlohmann JSON for the Power
// service's replies. Keys keep the order written here (ordered_json).
//
// Conventions: enum values use the names of power_format.h ("running",
// "failed_suspend"); timestamps are RFC 3339 UTC strings
// ("2024-05-01T12:00:03.250Z") or null when unset; durations are JSON
// numbers of seconds (5.002); empty optional strings and unknown pids are
// null.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "runtime/error.h"
#include "trellis/power/v1/power.pb.h"

namespace trellis::powerctl {

using Json = nlohmann::ordered_json;

// {"id", "name", "holder", "pid", "uid", "since", "parent", "chain",
//  "max_hold", "handing_off"}; parent and max_hold null when unset.
Json LeaseToJson(const power::v1::WakeLeaseInfo& lease);
// An array of lease objects in the reply's order.
Json LeasesToJson(const google::protobuf::RepeatedPtrField<power::v1::WakeLeaseInfo>& leases);

// {"state", "since", "wake_generation", "leases": [...], "queued_suspend":
//  {"since", "until", "forces", "pid"} or null}.
Json StatusToJson(const power::v1::StatusResponse& status);

// {"driver", "node", "host", "phase", "start_us", "duration_us", "status"}.
Json TimingToJson(const power::v1::CallbackTiming& timing);

// {"outcome", "suspended_for", "wake_reason", "wake_driver",
//  "wake_node_path", "failed_driver", "error", "wake_generation",
//  "missed_blockers", "overridden_leases", "timings": [...]}; timings is
//  empty unless the suspend was traced.
Json SuspendResultToJson(const power::v1::SuspendResponse& response);

// {"success", "fail", "failed_suspend", "failed_resume", "aborted_by_lease",
//  "aborted_by_wake", "total_suspended", "last_failed_driver",
//  "last_failed_error", "revoked_leases", "expired_handoffs", "leases":
//  LeaseStatsToJson, "drivers": DriverLatenciesToJson}.
Json StatsToJson(const power::v1::SuspendStats& stats);
// [{"name", "acquired", "held", "max_held", "charged", "revoked"}], most
// charged first.
Json LeaseStatsToJson(const power::v1::SuspendStats& stats);
// [{"driver", "node", "suspend": H, "resume": H}] with H = {"count",
// "last_us", "median_us", "max_us", "target_us" (null: none), "over_target",
// "regressed", "buckets"}.
Json DriverLatenciesToJson(const power::v1::SuspendStats& stats);

// {"time", "state", "detail"}.
Json EventToJson(const power::v1::PowerEvent& event);

// {"error": {"code": "FAILED_PRECONDITION", "message": "Power.Suspend: ..."}}.
Json ErrorToJson(const Error& error);

// Serialises `json`: indented by two spaces if `pretty`, else on one line.
// Invalid UTF-8 (from driver-chosen names) is replaced, never thrown.
std::string DumpJson(const Json& json, bool pretty = true);

}  // namespace trellis::powerctl
