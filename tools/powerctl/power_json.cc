// JSON renderings of Power service replies.
#include "tools/powerctl/power_json.h"

#include <google/protobuf/util/time_util.h>

#include <chrono>

#include "tools/powerctl/power_format.h"

namespace trellis::powerctl {

namespace {

using google::protobuf::util::TimeUtil;

Json StringOrNull(const std::string& value) { return value.empty() ? Json(nullptr) : Json(value); }

Json TimeToJson(const google::protobuf::Timestamp& time) {
  return IsUnset(time) ? Json(nullptr) : Json(TimeUtil::ToString(time));
}

Json Seconds(const google::protobuf::Duration& duration) {
  return std::chrono::duration<double>(ToNanoseconds(duration)).count();
}

}  // namespace

Json LeaseToJson(const power::v1::WakeLeaseInfo& lease) {
  return Json{
      {"id", lease.lease_id()},
      {"name", lease.name()},
      {"holder", StringOrNull(lease.holder())},
      {"pid", lease.pid() == 0 ? Json(nullptr) : Json(lease.pid())},
      {"uid", lease.uid()},
      {"since", TimeToJson(lease.since())},
      {"parent", lease.parent_lease_id() == 0 ? Json(nullptr) : Json(lease.parent_lease_id())},
      {"chain", lease.chain()},
      {"max_hold", lease.has_max_hold() ? Seconds(lease.max_hold()) : Json(nullptr)},
      {"handing_off", lease.handing_off()},
  };
}

Json LeasesToJson(const google::protobuf::RepeatedPtrField<power::v1::WakeLeaseInfo>& leases) {
  Json array = Json::array();
  for (const auto& lease : leases) array.push_back(LeaseToJson(lease));
  return array;
}

Json StatusToJson(const power::v1::StatusResponse& status) {
  return Json{
      {"state", SystemStateName(status.state())},
      {"since", TimeToJson(status.since())},
      {"wake_generation", status.wake_generation()},
      {"leases", LeasesToJson(status.leases())},
      {"queued_suspend",
       status.has_queued_suspend()
           ? Json{{"since", TimeToJson(status.queued_suspend().since())},
                  {"until", TimeToJson(status.queued_suspend().until())},
                  {"forces", status.queued_suspend().forces()},
                  {"pid", status.queued_suspend().pid() == 0
                              ? Json(nullptr)
                              : Json(status.queued_suspend().pid())}}
           : Json(nullptr)},
  };
}

Json TimingToJson(const power::v1::CallbackTiming& timing) {
  return Json{
      {"driver", timing.driver()},
      {"node", timing.node_path()},
      {"host", StringOrNull(timing.host())},
      {"phase", PhaseName(timing.phase())},
      {"start_us", timing.start_us()},
      {"duration_us", timing.duration_us()},
      {"status", timing.status()},
  };
}

Json SuspendResultToJson(const power::v1::SuspendResponse& response) {
  Json timings = Json::array();
  for (const auto& timing : response.timings()) timings.push_back(TimingToJson(timing));
  return Json{
      {"outcome", OutcomeName(response.outcome())},
      {"suspended_for", Seconds(response.suspended_for())},
      {"wake_reason", StringOrNull(response.wake_reason())},
      {"wake_driver", StringOrNull(response.wake_driver())},
      {"wake_node_path", StringOrNull(response.wake_node_path())},
      {"failed_driver", StringOrNull(response.failed_driver())},
      {"error", StringOrNull(response.error())},
      {"wake_generation", response.wake_generation()},
      {"missed_blockers", response.missed_blockers()},
      {"overridden_leases", response.overridden_leases()},
      {"timings", std::move(timings)},
  };
}

Json StatsToJson(const power::v1::SuspendStats& stats) {
  return Json{
      {"success", stats.success()},
      {"fail", stats.fail()},
      {"failed_suspend", stats.failed_suspend()},
      {"failed_resume", stats.failed_resume()},
      {"aborted_by_lease", stats.aborted_by_lease()},
      {"aborted_by_wake", stats.aborted_by_wake()},
      {"total_suspended", Seconds(stats.total_suspended())},
      {"last_failed_driver", StringOrNull(stats.last_failed_driver())},
      {"last_failed_error", StringOrNull(stats.last_failed_error())},
      {"revoked_leases", stats.revoked_leases()},
      {"expired_handoffs", stats.expired_handoffs()},
      {"leases", LeaseStatsToJson(stats)},
      {"drivers", DriverLatenciesToJson(stats)},
  };
}

Json LeaseStatsToJson(const power::v1::SuspendStats& stats) {
  Json leases = Json::array();
  for (const auto& lease : stats.leases()) {
    leases.push_back(Json{{"name", lease.name()},
                          {"acquired", lease.acquired()},
                          {"held", Seconds(lease.held())},
                          {"max_held", Seconds(lease.max_held())},
                          {"charged", Seconds(lease.charged())},
                          {"revoked", lease.revoked()}});
  }
  return leases;
}

namespace {

Json HistogramToJson(const power::v1::LatencyHistogram& h) {
  return Json{{"count", h.count()},
              {"last_us", h.last_us()},
              {"median_us", h.median_us()},
              {"max_us", h.max_us()},
              {"target_us", h.target_us() == 0 ? Json(nullptr) : Json(h.target_us())},
              {"over_target", h.over_target()},
              {"regressed", h.regressed()},
              {"buckets", h.buckets()}};
}

}  // namespace

Json DriverLatenciesToJson(const power::v1::SuspendStats& stats) {
  Json drivers = Json::array();
  for (const auto& d : stats.drivers()) {
    drivers.push_back(Json{{"driver", d.driver()},
                           {"node", d.node_path()},
                           {"suspend", HistogramToJson(d.suspend())},
                           {"resume", HistogramToJson(d.resume())}});
  }
  return drivers;
}

Json EventToJson(const power::v1::PowerEvent& event) {
  return Json{
      {"time", TimeToJson(event.time())},
      {"state", SystemStateName(event.state())},
      {"detail", StringOrNull(event.detail())},
  };
}

Json ErrorToJson(const Error& error) {
  return Json{{"error", {{"code", ErrorCodeName(error.code())}, {"message", error.message()}}}};
}

std::string DumpJson(const Json& json, bool pretty) {
  return json.dump(pretty ? 2 : -1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace trellis::powerctl
