// Display names, durations, times, and the human text of powerctl's replies.
#include "tools/powerctl/power_format.h"

#include <time.h>

#include <algorithm>
#include <cstdio>
#include <utility>
#include <vector>

#include "tools/client/table.h"
#include "tools/powerctl/stats_format.h"

namespace trellis::powerctl {

namespace {

using namespace std::chrono_literals;
using power::v1::SuspendResponse;

// "label: value" lines with the values aligned one column past the longest
// label.
class Fields {
 public:
  void Add(std::string label, std::string value) {
    fields_.emplace_back(std::move(label) + ":", std::move(value));
  }

  std::string Render(std::string_view indent = "") const {
    size_t width = 0;
    for (const auto& [label, value] : fields_) width = std::max(width, label.size());
    std::string out;
    for (const auto& [label, value] : fields_) {
      out += std::string(indent) + label + std::string(width - label.size() + 1, ' ') + value + "\n";
    }
    return out;
  }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

std::string OrDash(const std::string& text) { return text.empty() ? "-" : text; }

}  // namespace

std::string_view SystemStateName(power::v1::SystemState state) {
  switch (state) {
    case power::v1::SYSTEM_STATE_UNSPECIFIED: return "unspecified";
    case power::v1::SYSTEM_STATE_RUNNING: return "running";
    case power::v1::SYSTEM_STATE_SUSPENDING: return "suspending";
    case power::v1::SYSTEM_STATE_SUSPENDED: return "suspended";
    case power::v1::SYSTEM_STATE_RESUMING: return "resuming";
    default: return "unknown";
  }
}

std::string_view OutcomeName(SuspendResponse::Outcome outcome) {
  switch (outcome) {
    case SuspendResponse::OUTCOME_UNSPECIFIED: return "unspecified";
    case SuspendResponse::OUTCOME_RESUMED: return "resumed";
    case SuspendResponse::OUTCOME_ABORTED_BY_LEASE: return "aborted_by_lease";
    case SuspendResponse::OUTCOME_ABORTED_BY_WAKE: return "aborted_by_wake";
    case SuspendResponse::OUTCOME_FAILED_SUSPEND: return "failed_suspend";
    case SuspendResponse::OUTCOME_FAILED_RESUME: return "failed_resume";
    case SuspendResponse::OUTCOME_TESTED: return "tested";
    default: return "unknown";
  }
}

std::string_view PhaseName(power::v1::CallbackTiming::Phase phase) {
  switch (phase) {
    case power::v1::CallbackTiming::PHASE_UNSPECIFIED: return "unspecified";
    case power::v1::CallbackTiming::PHASE_SUSPEND: return "suspend";
    case power::v1::CallbackTiming::PHASE_RESUME: return "resume";
    default: return "unknown";
  }
}

std::chrono::nanoseconds ToNanoseconds(const google::protobuf::Duration& duration) {
  return std::chrono::seconds(duration.seconds()) + std::chrono::nanoseconds(duration.nanos());
}

google::protobuf::Duration ToProtoDuration(std::chrono::nanoseconds duration) {
  google::protobuf::Duration proto;
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(duration);
  proto.set_seconds(seconds.count());
  proto.set_nanos(static_cast<int32_t>((duration - seconds).count()));
  return proto;
}

Clock::time_point ToTimePoint(const google::protobuf::Timestamp& timestamp) {
  return Clock::time_point(std::chrono::duration_cast<Clock::duration>(
      std::chrono::seconds(timestamp.seconds()) + std::chrono::nanoseconds(timestamp.nanos())));
}

bool IsUnset(const google::protobuf::Timestamp& timestamp) {
  return timestamp.seconds() == 0 && timestamp.nanos() == 0;
}

std::string DurationText(std::chrono::nanoseconds duration) {
  if (duration < 0ns) return "-" + DurationText(-duration);
  if (duration == 0ns) return "0s";
  if (duration < 1us) return std::to_string(duration.count()) + "ns";
  if (duration < 1ms) return std::to_string(duration / 1us) + "us";
  if (duration < 1s) return std::to_string(duration / 1ms) + "ms";
  if (duration < 1min) {
    int64_t millis = duration / 1ms;
    std::string text = std::to_string(millis / 1000);
    if (int64_t fraction = millis % 1000; fraction != 0) {
      char digits[8];
      std::snprintf(digits, sizeof digits, ".%03d", static_cast<int>(fraction));
      std::string_view view(digits);
      while (view.back() == '0') view.remove_suffix(1);
      text += view;
    }
    return text + "s";
  }
  int64_t seconds = duration / 1s;
  std::string text;
  if (seconds >= 3600) text = std::to_string(seconds / 3600) + "h";
  return text + std::to_string(seconds % 3600 / 60) + "m" + std::to_string(seconds % 60) + "s";
}

std::string TimeText(const google::protobuf::Timestamp& time, bool millis) {
  if (IsUnset(time)) return "-";
  time_t seconds = static_cast<time_t>(time.seconds());
  struct tm local {};
  localtime_r(&seconds, &local);
  char text[64];
  size_t length = std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &local);
  if (millis) {
    std::snprintf(text + length, sizeof text - length, ".%03d", time.nanos() / 1000000);
  }
  return text;
}

std::string AgeText(const google::protobuf::Timestamp& since, Clock::time_point now) {
  if (IsUnset(since)) return "-";
  auto age = std::max(Clock::duration::zero(), now - ToTimePoint(since));
  return DurationText(std::chrono::floor<std::chrono::seconds>(age)) + " ago";
}

std::string FormatStatus(const power::v1::StatusResponse& status, Clock::time_point now) {
  Fields fields;
  fields.Add("state", std::string(SystemStateName(status.state())));
  std::string since = TimeText(status.since());
  if (!IsUnset(status.since())) since += " (" + AgeText(status.since(), now) + ")";
  fields.Add("since", since);
  fields.Add("wake generation", std::to_string(status.wake_generation()));
  if (status.has_queued_suspend()) {
    const auto& queued = status.queued_suspend();
    std::string text = "since " + TimeText(queued.since());
    if (queued.pid() != 0) text += " by pid " + std::to_string(queued.pid());
    if (!IsUnset(queued.until())) {
      text += queued.forces() ? ", goes ahead at " : ", gives up at ";
      text += TimeText(queued.until());
    }
    fields.Add("queued suspend", text + " (`powerctl cancel` cancels it)");
  }
  if (status.leases().empty()) {
    fields.Add("leases", "none");
    return fields.Render();
  }
  fields.Add("leases", std::to_string(status.leases().size()) + " held");
  return fields.Render() + "\n" + FormatLeases(status.leases(), now);
}

std::string FormatLeases(const google::protobuf::RepeatedPtrField<power::v1::WakeLeaseInfo>& leases,
                         Clock::time_point now) {
  client::Table table({"ID", "NAME", "HOLDER", "PID", "UID", "SINCE"});
  for (const auto& lease : leases) {
    table.AddRow({std::to_string(lease.lease_id()), OrDash(lease.name()), OrDash(lease.holder()),
                  lease.pid() == 0 ? "-" : std::to_string(lease.pid()), std::to_string(lease.uid()),
                  AgeText(lease.since(), now)});
  }
  return table.Render();
}

std::string FormatSuspendResult(const SuspendResponse& response, std::string_view trace_file) {
  Fields fields;
  fields.Add("outcome", std::string(OutcomeName(response.outcome())));
  auto suspended_for = ToNanoseconds(response.suspended_for());
  if (suspended_for != 0ns || response.outcome() == SuspendResponse::OUTCOME_RESUMED) {
    fields.Add("suspended for", DurationText(suspended_for));
  }
  if (!response.wake_reason().empty()) fields.Add("wake reason", response.wake_reason());
  if (!response.wake_driver().empty() || !response.wake_node_path().empty()) {
    std::string driver = response.wake_driver();
    if (driver.empty()) {
      driver = response.wake_node_path();
    } else if (!response.wake_node_path().empty()) {
      driver += " (" + response.wake_node_path() + ")";
    }
    fields.Add("wake driver", driver);
  }
  if (response.has_wake_latency()) {
    fields.Add("wake latency", DurationText(ToNanoseconds(response.wake_latency())));
  }
  if (!response.failed_driver().empty()) fields.Add("failed driver", response.failed_driver());
  if (!response.error().empty()) fields.Add("error", response.error());
  fields.Add("wake generation", std::to_string(response.wake_generation()));
  for (const auto& blocker : response.missed_blockers()) {
    fields.Add("missed blocker", blocker + " (did not acknowledge in time)");
  }
  for (const auto& lease : response.overridden_leases()) fields.Add("overridden", lease);
  if (!trace_file.empty()) {
    fields.Add("trace", std::string(trace_file) + " (" + std::to_string(response.timings().size()) +
                            " callbacks)");
  }
  return fields.Render();
}

std::string FormatStats(const power::v1::SuspendStats& stats) {
  Fields counters;
  counters.Add("success", std::to_string(stats.success()));
  counters.Add("fail", std::to_string(stats.fail()));
  counters.Add("failed_suspend", std::to_string(stats.failed_suspend()));
  counters.Add("failed_resume", std::to_string(stats.failed_resume()));
  counters.Add("aborted_by_lease", std::to_string(stats.aborted_by_lease()));
  counters.Add("aborted_by_wake", std::to_string(stats.aborted_by_wake()));
  counters.Add("total_suspended", DurationText(ToNanoseconds(stats.total_suspended())));
  Fields failures;
  failures.Add("last_failed_driver", OrDash(stats.last_failed_driver()));
  failures.Add("last_failed_error", OrDash(stats.last_failed_error()));
  counters.Add("revoked_leases", std::to_string(stats.revoked_leases()));
  counters.Add("expired_handoffs", std::to_string(stats.expired_handoffs()));
  std::string text = counters.Render() + "failures:\n" + failures.Render("  ");
  if (std::string leases = FormatLeaseStats(stats); !leases.empty()) {
    text += "\nwake leases (CHARGED: with the leases derived from them):\n" + leases;
  }
  if (std::string drivers = FormatDriverLatencies(stats); !drivers.empty()) {
    text += "\ndriver callbacks:\n" + drivers;
  }
  return text;
}

std::string FormatEvent(const power::v1::PowerEvent& event) {
  std::string state(SystemStateName(event.state()));
  std::string line = TimeText(event.time(), /*millis=*/true) + "  " + state;
  if (!event.detail().empty()) {
    // Pad to the longest state name so details line up.
    line += std::string(std::max<size_t>(10, state.size()) - state.size(), ' ') + "  " +
            event.detail();
  }
  return line + "\n";
}

}  // namespace trellis::powerctl
