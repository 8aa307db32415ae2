// BenchWorkload: offsets, operations and the write pattern.
#include "tools/trellisctl/bench_workload.h"

namespace trellis::tools {

std::string_view BenchPatternName(BenchPattern pattern) {
  return pattern == BenchPattern::kRandom ? "rand" : "seq";
}

std::string_view BenchOpName(BenchOp op) {
  switch (op) {
    case BenchOp::kRead:
      return "read";
    case BenchOp::kWrite:
      return "write";
    case BenchOp::kMixed:
      return "mixed";
  }
  return "unknown";
}

Result<BenchWorkload> BenchWorkload::Create(const WorkloadOptions& options) {
  if (options.block_size == 0 || options.request_blocks == 0) {
    return Fail(ErrorCode::kInvalidArgument, "a block size or request size of 0");
  }
  if (options.request_blocks > options.block_count) {
    return Fail(ErrorCode::kInvalidArgument, "a request of " +
                                                 std::to_string(options.request_blocks) +
                                                 " blocks does not fit on a device of " +
                                                 std::to_string(options.block_count) + " blocks");
  }
  return BenchWorkload(options);
}

BenchWorkload::BenchWorkload(const WorkloadOptions& options)
    : options_(options), random_(options.seed) {
  static constexpr std::string_view kPattern = "trellis bench ";
  const uint64_t bytes = uint64_t{options.request_blocks} * options.block_size;
  payload_.reserve(bytes);
  while (payload_.size() < bytes) payload_ += kPattern.substr(0, bytes - payload_.size());
}

uint64_t BenchWorkload::NextOffset() {
  const uint64_t blocks = options_.request_blocks;
  if (options_.pattern == BenchPattern::kRandom) {
    return random_() % (options_.block_count / blocks) * blocks;
  }
  uint64_t offset = sequential_;
  sequential_ = blocks > options_.block_count - (offset + blocks) ? 0 : offset + blocks;
  return offset;
}

bool BenchWorkload::NextIsWrite() {
  switch (options_.op) {
    case BenchOp::kRead:
      return false;
    case BenchOp::kWrite:
      return true;
    case BenchOp::kMixed:
      return (random_() & 1) != 0;
  }
  return false;
}

block::v1::BlockRequest BenchWorkload::Next() {
  block::v1::BlockRequest request;
  uint64_t offset = NextOffset();
  if (NextIsWrite()) {
    request.mutable_write()->set_offset_blocks(offset);
    request.mutable_write()->set_data(payload_);
  } else {
    request.mutable_read()->set_offset_blocks(offset);
    request.mutable_read()->set_length_blocks(options_.request_blocks);
  }
  return request;
}

}  // namespace trellis::tools
