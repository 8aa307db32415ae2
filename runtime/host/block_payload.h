// How Block's gRPC messages carry payload: the limits and checks the unary
// calls (block_service.cc) and Block.Stream (block_stream.cc) share before
// a request reaches the driver.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "runtime/driver/block_protocol.h"
#include "runtime/error.h"

namespace trellis::host {

// Largest payload carried in one message (below gRPC's 4 MiB default).
inline constexpr uint64_t kMaxInlinePayload = 4 * 1024 * 1024 - 64 * 1024;

// Bytes a read or write of `blocks` moves, if one message can carry them.
// Errors: kInvalidArgument past kMaxInlinePayload; ValidateBlockInfo's.
Result<uint64_t> InlineBytes(const BlockInfo& info, uint64_t blocks);

// Blocks a write of `bytes` covers, if it is whole blocks.
// Errors: kInvalidArgument for a partial block; ValidateBlockInfo's.
Result<uint64_t> WriteBlocks(const BlockInfo& info, size_t bytes);

// A message's bytes field as the driver's payload span.
inline std::span<std::byte> SpanOf(std::string& bytes) {
  return {reinterpret_cast<std::byte*>(bytes.data()), bytes.size()};
}

}  // namespace trellis::host
