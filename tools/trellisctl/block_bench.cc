// RunBlockBench on BlockClient::RunPipelined, BenchWorkload and
// LatencyHistogram.
#include "tools/trellisctl/block_bench.h"

#include <algorithm>
#include <cstdio>

#include "tools/trellisctl/latency_histogram.h"

namespace trellis::tools {

namespace {

using Clock = std::chrono::steady_clock;

// How long a time-bounded stream may overrun its time before it is cut off.
constexpr auto kDrainTime = std::chrono::seconds(30);

// The request size in blocks, if the device takes it.
Result<uint32_t> RequestBlocks(const block::v1::BlockInfo& info, uint32_t size) {
  if (info.block_size() == 0) return Fail(ErrorCode::kInternal, "the device reports 0-byte blocks");
  if (size == 0 || size % info.block_size() != 0) {
    return Fail(ErrorCode::kInvalidArgument,
                "--size " + std::to_string(size) + " is not a whole number of the device's " +
                    std::to_string(info.block_size()) + "-byte blocks");
  }
  if (info.max_transfer_size() != 0 && size > info.max_transfer_size()) {
    return Fail(ErrorCode::kInvalidArgument,
                "--size " + std::to_string(size) + " exceeds the device's max transfer of " +
                    std::to_string(info.max_transfer_size()) + " bytes");
  }
  return size / info.block_size();
}

Error ResponseError(const block::v1::BlockResponse& response) {
  int code = response.code();
  bool known = code >= static_cast<int>(ErrorCode::kCancelled) &&
               code <= static_cast<int>(ErrorCode::kUnauthenticated);
  return Error(known ? static_cast<ErrorCode>(code) : ErrorCode::kUnknown,
               "request " + std::to_string(response.request_id()) + ": " + response.message());
}

// The progress line on stderr: rewritten in place about once a second,
// erased at the end. Does nothing unless enabled.
class ProgressLine {
 public:
  ProgressLine(bool enabled, Clock::time_point start)
      : enabled_(enabled), start_(start), shown_(start) {}
  ~ProgressLine() { Erase(); }

  void Update(uint64_t done, Clock::time_point now) {
    if (!enabled_ || now - shown_ < std::chrono::seconds(1)) return;
    shown_ = now;
    double seconds = std::chrono::duration<double>(now - start_).count();
    char text[64];
    int width = std::snprintf(text, sizeof text, "%llu ops, %.0f IOPS",
                              static_cast<unsigned long long>(done), done / seconds);
    // Padded to cover a longer line before it.
    std::fprintf(stderr, "\r%-*s", std::max(width, width_), text);
    std::fflush(stderr);
    width_ = std::max(width, width_);
  }

  void Erase() {
    if (width_ <= 0) return;
    std::fprintf(stderr, "\r%*s\r", width_, "");
    std::fflush(stderr);
    width_ = 0;
  }

 private:
  const bool enabled_;
  const Clock::time_point start_;
  Clock::time_point shown_;
  int width_ = 0;  // Of the line on screen.
};

}  // namespace

Result<BenchOutcome> RunBlockBench(client::BlockClient& block, const block::v1::BlockInfo& info,
                                   const std::string& node, const BenchOptions& options) {
  TRELLIS_ASSIGN_OR_RETURN(uint32_t request_blocks, RequestBlocks(info, options.size));
  if (options.op != BenchOp::kRead && info.read_only()) {
    return Fail(ErrorCode::kPermissionDenied, "the device is read-only and --op " +
                                                  std::string(BenchOpName(options.op)) +
                                                  " writes; use --op read");
  }
  TRELLIS_ASSIGN_OR_RETURN(auto workload,
                           BenchWorkload::Create({.pattern = options.pattern,
                                                  .op = options.op,
                                                  .block_size = info.block_size(),
                                                  .block_count = info.block_count(),
                                                  .request_blocks = request_blocks}),
                           "--size " + std::to_string(options.size));

  BenchOutcome outcome;
  BenchReport& report = outcome.report;
  report.node = node;
  report.pattern = BenchPatternName(options.pattern);
  report.op = BenchOpName(options.op);
  report.size = options.size;
  report.depth = options.depth;
  LatencyHistogram latencies;
  uint64_t sent = 0;
  const Clock::time_point start = Clock::now();
  const Clock::time_point stop = start + options.time;
  Clock::time_point last = start;
  ProgressLine progress(options.progress, start);

  auto next = [&]() -> std::optional<block::v1::BlockRequest> {
    if (options.ops > 0 ? sent >= options.ops : Clock::now() >= stop) return std::nullopt;
    ++sent;
    return workload.Next();
  };
  auto done = [&](const block::v1::BlockResponse& response, std::chrono::nanoseconds latency) {
    last = Clock::now();
    if (response.code() == 0) {
      ++report.ops;
      latencies.Record(static_cast<uint64_t>(latency.count()));
    } else {
      ++report.errors;
      if (!outcome.first_error) outcome.first_error = ResponseError(response);
    }
    progress.Update(report.ops + report.errors, last);
  };
  client::PipelineOptions pipeline{.depth = options.depth};
  if (options.ops == 0) pipeline.timeout = options.time + kDrainTime;
  auto ran = block.RunPipelined(pipeline, next, done);
  progress.Erase();
  if (!ran) return Fail(std::move(ran).error());

  report.seconds = std::chrono::duration<double>(last - start).count();
  report.latency = {.p50 = latencies.Percentile(50),
                    .p90 = latencies.Percentile(90),
                    .p99 = latencies.Percentile(99),
                    .p999 = latencies.Percentile(99.9),
                    .max = latencies.max()};
  return outcome;
}

}  // namespace trellis::tools
