// The callback timings of a traced suspend (powerctl suspend --trace FILE)
// as a Chrome / Perfetto trace in the Trace Event Format, so the suspend
// and resume of every driver can be seen on a timeline in ui.perfetto.dev or
// chrome://tracing.
//
// Each driver host becomes a process and each node a thread in it:
//   {"traceEvents": [
//      {"name": "process_name", "ph": "M", "pid": 1, "tid": 0,
//       "args": {"name": "host-1"}},
//      {"name": "thread_name", "ph": "M", "pid": 1, "tid": 2,
//       "args": {"name": "root.sys.disk0"}},
//      {"name": "disk suspend", "cat": "suspend", "ph": "X", "ts": 120,
//       "dur": 3400, "pid": 1, "tid": 2,
//       "args": {"node": "root.sys.disk0", "driver": "disk", "host": "host-1",
//                "status": "ok"}},
//      ...],
//    "displayTimeUnit": "ms",
//    "otherData": {"outcome": "resumed", "suspended_for_us": 5002000, ...}}
// pids number the distinct host ids from 1 and tids the distinct node paths
// from 1, both in natural order ("h-2" before "h-10"), so the same topology
// gets the same numbers on every run. ts and dur are microseconds since the suspend
// attempt began, as the manager reports them.
#pragma once

#include <string>

#include "tools/powerctl/power_json.h"
#include "trellis/power/v1/power.pb.h"

namespace trellis::powerctl {

// The trace document described above: metadata events first (processes,
// then threads, with sort indexes that keep the numbering order), then one
// "X" event per timing in call order.
Json TraceToJson(const power::v1::SuspendResponse& response);

// TraceToJson serialised on one line, ending in '\n'.
std::string FormatTrace(const power::v1::SuspendResponse& response);

}  // namespace trellis::powerctl
