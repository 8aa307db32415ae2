// Block.Stream workloads shared by the Block and GPT integration tests:
// random writes and reads of single blocks with every read checked against
// the block's last write, optionally across system suspends.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "trellis/block/v1/block.grpc.pb.h"

namespace trellis::testing {

// `size` bytes that depend on `seed`.
std::string Pattern(size_t size, int seed);

struct StreamCheck {
  int failures = 0;    // Requests answered with an error.
  int data_loss = 0;   // Of which DATA_LOSS (EIO).
  int mismatches = 0;  // Reads with the wrong data; ids answered twice or never asked.
  int completed = 0;
  int cycles = 0;      // Suspend/resume cycles that reached Suspended (RunStreamAcrossSuspends).
};

// Keeps `depth` requests in flight on one Stream until `ops` are answered;
// `after_completion(n)` runs after the n-th answer. Blocks start zeroed.
StreamCheck RunStream(block::v1::Block::Stub* stub, const std::string& token, uint64_t blocks,
                      uint32_t block_size, int ops, int depth,
                      std::function<void(int)> after_completion = nullptr);

// RunStream of 4,000 requests at depth 32 while the system is suspended and
// resumed twice (from the 500th answer on), through the manager at
// `manager_endpoint`.
StreamCheck RunStreamAcrossSuspends(const std::string& manager_endpoint,
                                    block::v1::Block::Stub* stub, const std::string& token,
                                    uint64_t blocks, uint32_t block_size);

}  // namespace trellis::testing
