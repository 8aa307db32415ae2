// Tests of the Chrome / Perfetto trace writer: the output is parsed back
// with nlohmann::json and checked field by field.
#include "tools/powerctl/trace_format.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

#include "tools/powerctl/power_format.h"

namespace trellis::powerctl {
namespace {

using namespace std::chrono_literals;
using power::v1::CallbackTiming;
using power::v1::SuspendResponse;

void AddTiming(SuspendResponse& response, std::string driver, std::string node, std::string host,
               CallbackTiming::Phase phase, uint64_t start_us, uint64_t duration_us,
               std::string status = "ok") {
  CallbackTiming* timing = response.add_timings();
  timing->set_driver(std::move(driver));
  timing->set_node_path(std::move(node));
  timing->set_host(std::move(host));
  timing->set_phase(phase);
  timing->set_start_us(start_us);
  timing->set_duration_us(duration_us);
  timing->set_status(std::move(status));
}

// A suspend of three nodes on two hosts, leaves first, and the resume.
SuspendResponse TracedSuspend() {
  SuspendResponse response;
  response.set_outcome(SuspendResponse::OUTCOME_RESUMED);
  *response.mutable_suspended_for() = ToProtoDuration(5s);
  AddTiming(response, "disk", "root.sys.pci.disk0", "host-2", CallbackTiming::PHASE_SUSPEND, 100, 3000);
  AddTiming(response, "pci", "root.sys.pci", "host-1", CallbackTiming::PHASE_SUSPEND, 3200, 500,
            "DEADLINE_EXCEEDED: slow");
  AddTiming(response, "rtc", "root.sys.rtc0", "host-1", CallbackTiming::PHASE_SUSPEND, 3200, 40);
  AddTiming(response, "pci", "root.sys.pci", "host-1", CallbackTiming::PHASE_RESUME, 5004000, 700);
  AddTiming(response, "disk", "root.sys.pci.disk0", "host-2", CallbackTiming::PHASE_RESUME, 5004800, 900);
  return response;
}

std::vector<nlohmann::json> EventsWithPhase(const nlohmann::json& trace, const std::string& ph) {
  std::vector<nlohmann::json> events;
  for (const auto& event : trace["traceEvents"]) {
    if (event["ph"] == ph) events.push_back(event);
  }
  return events;
}

TEST(TraceFormatTest, WritesOneCompleteEventPerCallbackInCallOrder) {
  std::string text = FormatTrace(TracedSuspend());
  ASSERT_EQ(text.back(), '\n');
  nlohmann::json trace = nlohmann::json::parse(text);
  EXPECT_EQ(trace["displayTimeUnit"], "ms");
  auto slices = EventsWithPhase(trace, "X");
  ASSERT_EQ(slices.size(), 5u);

  const nlohmann::json& first = slices[0];
  EXPECT_EQ(first["name"], "disk suspend");
  EXPECT_EQ(first["cat"], "suspend");
  EXPECT_EQ(first["ts"], 100);
  EXPECT_EQ(first["dur"], 3000);
  EXPECT_EQ(first["args"]["node"], "root.sys.pci.disk0");
  EXPECT_EQ(first["args"]["driver"], "disk");
  EXPECT_EQ(first["args"]["host"], "host-2");
  EXPECT_EQ(first["args"]["status"], "ok");

  EXPECT_EQ(slices[1]["args"]["status"], "DEADLINE_EXCEEDED: slow");
  EXPECT_EQ(slices[3]["name"], "pci resume");
  EXPECT_EQ(slices[3]["cat"], "resume");
  EXPECT_EQ(slices[3]["ts"], 5004000);
}

TEST(TraceFormatTest, HostsArePidsAndNodesAreTidsNumberedInSortedOrder) {
  nlohmann::json trace = nlohmann::json::parse(FormatTrace(TracedSuspend()));
  std::map<std::string, int> pids;
  for (const auto& event : EventsWithPhase(trace, "M")) {
    if (event["name"] == "process_name") pids[event["args"]["name"]] = event["pid"];
  }
  EXPECT_EQ(pids, (std::map<std::string, int>{{"host-1", 1}, {"host-2", 2}}));

  std::map<std::string, std::pair<int, int>> threads;  // node -> (pid, tid)
  for (const auto& event : EventsWithPhase(trace, "M")) {
    if (event["name"] == "thread_name") {
      threads[event["args"]["name"]] = {event["pid"], event["tid"]};
    }
  }
  EXPECT_EQ(threads, (std::map<std::string, std::pair<int, int>>{
                         {"root.sys.pci", {1, 1}},
                         {"root.sys.pci.disk0", {2, 2}},
                         {"root.sys.rtc0", {1, 3}}}));
  for (const auto& slice : EventsWithPhase(trace, "X")) {
    auto [pid, tid] = threads.at(slice["args"]["node"]);
    EXPECT_EQ(slice["pid"], pid) << slice;
    EXPECT_EQ(slice["tid"], tid) << slice;
  }
}

TEST(TraceFormatTest, NumberingDoesNotDependOnCallOrder) {
  SuspendResponse forward = TracedSuspend();
  SuspendResponse backward = forward;
  std::reverse(backward.mutable_timings()->begin(), backward.mutable_timings()->end());
  auto slices_by_node = [](const SuspendResponse& response) {
    std::map<std::string, std::pair<int, int>> ids;
    for (const auto& slice : EventsWithPhase(nlohmann::json::parse(FormatTrace(response)), "X")) {
      ids[slice["args"]["node"]] = {slice["pid"], slice["tid"]};
    }
    return ids;
  };
  EXPECT_EQ(slices_by_node(forward), slices_by_node(backward));
}

TEST(TraceFormatTest, NumbersCountUpNaturally) {
  SuspendResponse response;
  for (const char* host : {"h-10", "h-2", "h-1"}) {
    AddTiming(response, "echo", std::string("root.echo") + (host + 2), host,
              CallbackTiming::PHASE_SUSPEND, 0, 1);
  }
  nlohmann::json trace = nlohmann::json::parse(FormatTrace(response));
  std::map<std::string, int> pids;
  std::map<std::string, int> tids;
  for (const auto& event : EventsWithPhase(trace, "M")) {
    if (event["name"] == "process_name") pids[event["args"]["name"]] = event["pid"];
    if (event["name"] == "thread_name") tids[event["args"]["name"]] = event["tid"];
  }
  EXPECT_EQ(pids, (std::map<std::string, int>{{"h-1", 1}, {"h-2", 2}, {"h-10", 3}}));
  EXPECT_EQ(tids,
            (std::map<std::string, int>{{"root.echo1", 1}, {"root.echo2", 2}, {"root.echo10", 3}}));
}

TEST(TraceFormatTest, RecordsOutcomeAsOtherData) {
  SuspendResponse response = TracedSuspend();
  response.set_outcome(SuspendResponse::OUTCOME_FAILED_RESUME);
  response.set_failed_driver("disk");
  nlohmann::json trace = nlohmann::json::parse(FormatTrace(response));
  EXPECT_EQ(trace["otherData"]["outcome"], "failed_resume");
  EXPECT_EQ(trace["otherData"]["failed_driver"], "disk");
  EXPECT_EQ(trace["otherData"]["suspended_for_us"], 5000000);
}

TEST(TraceFormatTest, TimingsWithoutHostOrNodeStillGetIds) {
  SuspendResponse response;
  AddTiming(response, "ghost", "", "", CallbackTiming::PHASE_SUSPEND, 1, 2);
  nlohmann::json trace = nlohmann::json::parse(FormatTrace(response));
  auto slices = EventsWithPhase(trace, "X");
  ASSERT_EQ(slices.size(), 1u);
  EXPECT_EQ(slices[0]["pid"], 1);
  EXPECT_EQ(slices[0]["tid"], 1);
  EXPECT_EQ(slices[0]["args"]["host"], "");
}

TEST(TraceFormatTest, UntracedSuspendGivesAnEmptyButValidTrace) {
  nlohmann::json trace = nlohmann::json::parse(FormatTrace(SuspendResponse()));
  EXPECT_TRUE(trace["traceEvents"].is_array());
  EXPECT_TRUE(trace["traceEvents"].empty());
}

}  // namespace
}  // namespace trellis::powerctl
