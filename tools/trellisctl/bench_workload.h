// BenchWorkload: the requests `trellisctl block bench` sends: where each
// goes, whether it reads or writes, and the pattern writes carry.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>

#include "runtime/error.h"
#include "trellis/block/v1/block.pb.h"

namespace trellis::tools {

enum class BenchPattern {
  kRandom,      // Uniformly over the device, aligned to the request size.
  kSequential,  // From block 0 on, back to 0 when the next would not fit.
};

enum class BenchOp {
  kRead,
  kWrite,
  kMixed,  // Read or write with equal odds.
};

// "rand", "seq"; "read", "write", "mixed": the names on the command line.
std::string_view BenchPatternName(BenchPattern pattern);
std::string_view BenchOpName(BenchOp op);

struct WorkloadOptions {
  BenchPattern pattern = BenchPattern::kRandom;
  BenchOp op = BenchOp::kRead;
  uint32_t block_size = 0;
  uint64_t block_count = 0;
  uint32_t request_blocks = 0;  // Blocks per request.
  uint64_t seed = 1;            // Of the random offsets and mixed choices.
};

class BenchWorkload {
 public:
  // Errors: kInvalidArgument for a block size or request of 0, or a request
  // larger than the device.
  static Result<BenchWorkload> Create(const WorkloadOptions& options);

  // The next request, request_id unset. Writes carry "trellis bench "
  // repeated, so they are recognisable when read back.
  block::v1::BlockRequest Next();

 private:
  explicit BenchWorkload(const WorkloadOptions& options);

  uint64_t NextOffset();
  bool NextIsWrite();

  WorkloadOptions options_;
  std::mt19937_64 random_;
  uint64_t sequential_ = 0;  // Where the next sequential request goes.
  std::string payload_;      // What every write writes.
};

}  // namespace trellis::tools
