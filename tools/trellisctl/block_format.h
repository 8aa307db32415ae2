// The output of `trellisctl block`: a device's geometry (block info) and a
// benchmark's results (block bench), as text and as JSON.
#pragma once

#include <cstdint>
#include <string>

#include "tools/trellisctl/json_format.h"
#include "trellis/block/v1/block.pb.h"

namespace trellis::tools {

// Labelled lines: node, block size, block count, size (human and in bytes),
// read-only, optimal and max transfer ("no preference" / "no limit" for 0).
std::string FormatBlockInfo(const std::string& node, const block::v1::BlockInfo& info);

// {"node", "block_size", "block_count", "size_bytes", "read_only",
//  "optimal_transfer_size", "max_transfer_size"}; size_bytes is null if it
// does not fit in 64 bits.
Json BlockInfoToJson(const std::string& node, const block::v1::BlockInfo& info);

// Latency percentiles of a benchmark, in nanoseconds.
struct LatencySummary {
  uint64_t p50 = 0;
  uint64_t p90 = 0;
  uint64_t p99 = 0;
  uint64_t p999 = 0;
  uint64_t max = 0;
};

// What a benchmark did and how fast.
struct BenchReport {
  std::string node;
  std::string pattern;     // "rand" or "seq".
  std::string op;          // "read", "write" or "mixed".
  uint32_t size = 0;       // Bytes per request.
  uint32_t depth = 0;      // Requests in flight.
  uint64_t ops = 0;        // Requests that succeeded.
  uint64_t errors = 0;     // Requests that failed.
  double seconds = 0;      // From the first request to the last response.
  LatencySummary latency;  // Of the requests that succeeded.
};

// Successful requests a second; 0 for a run of no time.
double Iops(const BenchReport& report);
// Megabytes (10^6 bytes) a second moved by successful requests.
double MegabytesPerSecond(const BenchReport& report);

// A header line naming the run, then ops and errors, IOPS, MB/s and the
// latency percentiles in microseconds.
std::string FormatBenchReport(const BenchReport& report);

// {"node", "pattern", "op", "size", "depth", "ops", "errors", "seconds",
//  "iops", "mb_per_s", "latency_us": {"p50", "p90", "p99", "p99.9", "max"}}.
Json BenchReportToJson(const BenchReport& report);

}  // namespace trellis::tools
