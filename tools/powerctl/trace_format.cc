// Chrome Trace Event Format output of suspend callback timings.
#include "tools/powerctl/trace_format.h"

#include <cctype>
#include <chrono>
#include <map>
#include <set>
#include <string_view>
#include <utility>

#include "tools/powerctl/power_format.h"

namespace trellis::powerctl {

namespace {

using power::v1::CallbackTiming;

// What a timing is shown under: its host (process) and its node (thread).
// A timing without a node path is filed under its driver name.
std::string HostLabel(const CallbackTiming& timing) {
  return timing.host().empty() ? "(unknown host)" : timing.host();
}
std::string NodeLabel(const CallbackTiming& timing) {
  if (!timing.node_path().empty()) return timing.node_path();
  return timing.driver().empty() ? "(unknown node)" : timing.driver();
}

bool IsDigit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

// Natural order: runs of digits compare by value, so "h-2" < "h-10" and
// "echo9" < "echo10"; strings that only differ in leading zeros fall back
// to plain order.
struct NaturalLess {
  bool operator()(std::string_view a, std::string_view b) const {
    size_t i = 0;
    size_t j = 0;
    while (i < a.size() && j < b.size()) {
      if (IsDigit(a[i]) && IsDigit(b[j])) {
        size_t a_end = i;
        size_t b_end = j;
        while (a_end < a.size() && IsDigit(a[a_end])) ++a_end;
        while (b_end < b.size() && IsDigit(b[b_end])) ++b_end;
        std::string_view x = a.substr(i, a_end - i);
        std::string_view y = b.substr(j, b_end - j);
        while (x.size() > 1 && x.front() == '0') x.remove_prefix(1);
        while (y.size() > 1 && y.front() == '0') y.remove_prefix(1);
        if (x.size() != y.size()) return x.size() < y.size();
        if (x != y) return x < y;
        i = a_end;
        j = b_end;
      } else {
        if (a[i] != b[j]) return a[i] < b[j];
        ++i;
        ++j;
      }
    }
    if (a.size() - i != b.size() - j) return a.size() - i < b.size() - j;
    return a < b;
  }
};

using NaturalSet = std::set<std::string, NaturalLess>;
using Numbering = std::map<std::string, int, NaturalLess>;

// Numbers the distinct values 1, 2, ... in natural order.
Numbering Number(const NaturalSet& values) {
  Numbering numbers;
  for (const std::string& value : values) numbers.emplace(value, static_cast<int>(numbers.size()) + 1);
  return numbers;
}

Json Metadata(std::string_view name, int pid, int tid, Json args) {
  return Json{{"name", name}, {"ph", "M"}, {"pid", pid}, {"tid", tid}, {"args", std::move(args)}};
}

}  // namespace

Json TraceToJson(const power::v1::SuspendResponse& response) {
  NaturalSet hosts;
  NaturalSet nodes;
  std::set<std::pair<int, int>> threads;  // (pid, tid) pairs seen.
  for (const CallbackTiming& timing : response.timings()) {
    hosts.insert(HostLabel(timing));
    nodes.insert(NodeLabel(timing));
  }
  Numbering pids = Number(hosts);
  Numbering tids = Number(nodes);
  std::map<int, std::string> node_names;
  for (const auto& [node, tid] : tids) node_names.emplace(tid, node);
  for (const CallbackTiming& timing : response.timings()) {
    threads.emplace(pids.at(HostLabel(timing)), tids.at(NodeLabel(timing)));
  }

  Json events = Json::array();
  for (const auto& [host, pid] : pids) {
    events.push_back(Metadata("process_name", pid, 0, {{"name", host}}));
    events.push_back(Metadata("process_sort_index", pid, 0, {{"sort_index", pid}}));
  }
  for (const auto& [pid, tid] : threads) {
    events.push_back(Metadata("thread_name", pid, tid, {{"name", node_names.at(tid)}}));
    events.push_back(Metadata("thread_sort_index", pid, tid, {{"sort_index", tid}}));
  }
  for (const CallbackTiming& timing : response.timings()) {
    std::string phase(PhaseName(timing.phase()));
    std::string who = timing.driver().empty() ? NodeLabel(timing) : timing.driver();
    events.push_back(Json{
        {"name", who + " " + phase},
        {"cat", phase},
        {"ph", "X"},
        {"ts", timing.start_us()},
        {"dur", timing.duration_us()},
        {"pid", pids.at(HostLabel(timing))},
        {"tid", tids.at(NodeLabel(timing))},
        {"args",
         {{"node", timing.node_path()},
          {"driver", timing.driver()},
          {"host", timing.host()},
          {"status", timing.status()}}},
    });
  }
  auto suspended_for = std::chrono::duration_cast<std::chrono::microseconds>(
      ToNanoseconds(response.suspended_for()));
  return Json{
      {"traceEvents", std::move(events)},
      {"displayTimeUnit", "ms"},
      {"otherData",
       {{"outcome", OutcomeName(response.outcome())},
        {"suspended_for_us", suspended_for.count()},
        {"wake_reason", response.wake_reason()},
        {"failed_driver", response.failed_driver()},
        {"error", response.error()}}},
  };
}

std::string FormatTrace(const power::v1::SuspendResponse& response) {
  return DumpJson(TraceToJson(response), false) + "\n";
}

}  // namespace trellis::powerctl
