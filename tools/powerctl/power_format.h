// powerctl's human output: display names of the Power service's enums,
// durations and times as text, and the text of each command's reply.
// The JSON renderings are in power_json.h.
//
// Times are shown in local time ("2024-05-01 12:00:03"), durations the way
// the command line accepts them ("250ms", "5.002s", "1h2m3s").
#pragma once

#include <google/protobuf/duration.pb.h>
#include <google/protobuf/timestamp.pb.h>

#include <chrono>
#include <string>
#include <string_view>

#include "trellis/power/v1/power.pb.h"

namespace trellis::powerctl {

using Clock = std::chrono::system_clock;

// "running", "suspending", "suspended", "resuming"; "unspecified" for 0 and
// "unknown" for a value newer than this tool.
std::string_view SystemStateName(power::v1::SystemState state);

// "resumed", "aborted_by_lease", "aborted_by_wake", "failed_suspend",
// "failed_resume", "tested"; "unspecified" / "unknown" as above.
std::string_view OutcomeName(power::v1::SuspendResponse::Outcome outcome);

// "suspend", "resume"; "unspecified" / "unknown" as above.
std::string_view PhaseName(power::v1::CallbackTiming::Phase phase);

// Conversions from the well-known types.
std::chrono::nanoseconds ToNanoseconds(const google::protobuf::Duration& duration);
google::protobuf::Duration ToProtoDuration(std::chrono::nanoseconds duration);
Clock::time_point ToTimePoint(const google::protobuf::Timestamp& timestamp);
// Whether a timestamp was left unset (zero).
bool IsUnset(const google::protobuf::Timestamp& timestamp);

// "0s", "500ns", "750us", "250ms", "1.5s", "5.002s", "1m30s", "2h0m5s" (whole
// seconds from a minute up, fractions of a millisecond below one second
// dropped); negative durations get a leading '-'.
std::string DurationText(std::chrono::nanoseconds duration);

// The local time of `time`: "2024-05-01 12:00:03", with ".123" appended if
// `millis`. "-" for an unset timestamp.
std::string TimeText(const google::protobuf::Timestamp& time, bool millis = false);

// How long ago `since` was, in whole seconds: "3m2s ago"; "0s ago" for a
// time in the future (clock skew); "-" if unset.
std::string AgeText(const google::protobuf::Timestamp& since, Clock::time_point now);

// state / since / wake generation (/ queued suspend) lines, then the lease
// table (or "leases: none").
std::string FormatStatus(const power::v1::StatusResponse& status, Clock::time_point now);

// ID NAME HOLDER PID UID SINCE: one row per lease, SINCE as an age; "-" for
// an unknown pid.
std::string FormatLeases(const google::protobuf::RepeatedPtrField<power::v1::WakeLeaseInfo>& leases,
                         Clock::time_point now);

// "outcome: resumed" and what else the reply says: suspended for, wake
// reason, wake driver (node), failed driver, error, wake generation, and
// "trace: FILE (N callbacks)" if `trace_file` is not empty. Lines with
// nothing to say are left out.
std::string FormatSuspendResult(const power::v1::SuspendResponse& response,
                                std::string_view trace_file = "");

// The counters as "name: value" lines, like Linux's suspend_stats, then a
// "failures:" block with the last failed driver and error, then the wake
// lease names and the drivers' callback times (stats_format.h).
std::string FormatStats(const power::v1::SuspendStats& stats);

// One line: "2024-05-01 12:00:03.123  suspending  <detail>".
std::string FormatEvent(const power::v1::PowerEvent& event);

}  // namespace trellis::powerctl
