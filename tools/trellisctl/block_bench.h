// RunBlockBench: the engine of `trellisctl block bench`: checks the request
// size against the device, keeps `depth` requests in flight on one
// Block.Stream until enough were answered or the time is up, shows
// progress, and sums up.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "runtime/error.h"
#include "tools/client/block_client.h"
#include "tools/trellisctl/bench_workload.h"
#include "tools/trellisctl/block_format.h"

namespace trellis::tools {

struct BenchOptions {
  BenchPattern pattern = BenchPattern::kRandom;
  BenchOp op = BenchOp::kRead;
  uint32_t size = 4096;  // Bytes per request, whole blocks.
  uint32_t depth = 32;   // Requests in flight.
  uint64_t ops = 0;      // Requests to send; 0: send for `time`.
  std::chrono::milliseconds time = std::chrono::seconds(5);
  // Rewrite one line on stderr about once a second with the ops done and
  // the IOPS so far (for a terminal).
  bool progress = false;
};

struct BenchOutcome {
  BenchReport report;
  // The first request that failed, as "request N: <message>" with its code.
  std::optional<Error> first_error;
};

// Runs the benchmark on `block`, a device with `info` at `node`. Blocks.
// Errors: kInvalidArgument for a size that is not whole blocks, above the
// device's max transfer or larger than the device; kPermissionDenied for a
// write or mixed bench on a read-only device; as BlockClient::RunPipelined
// if the stream failed. Failed requests are counted, not errors.
[[nodiscard]] Result<BenchOutcome> RunBlockBench(client::BlockClient& block,
                                                 const block::v1::BlockInfo& info,
                                                 const std::string& node,
                                                 const BenchOptions& options);

}  // namespace trellis::tools
