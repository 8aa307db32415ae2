#include "runtime/host/block_payload.h"

namespace trellis::host {

Result<uint64_t> InlineBytes(const BlockInfo& info, uint64_t blocks) {
  TRELLIS_TRY(ValidateBlockInfo(info));
  uint64_t bytes = blocks * info.block_size;  // blocks < 2^32, block_size <= 2^16.
  if (bytes > kMaxInlinePayload) {
    return Fail(ErrorCode::kInvalidArgument,
                std::to_string(bytes) + " bytes exceed the " + std::to_string(kMaxInlinePayload) +
                    "-byte limit of one message; split the transfer or use shared memory");
  }
  return bytes;
}

Result<uint64_t> WriteBlocks(const BlockInfo& info, size_t bytes) {
  TRELLIS_TRY(ValidateBlockInfo(info));
  if (bytes % info.block_size != 0) {
    return Fail(ErrorCode::kInvalidArgument, "write of " + std::to_string(bytes) +
                                                 " bytes is not a whole number of " +
                                                 std::to_string(info.block_size) + "-byte blocks");
  }
  return bytes / info.block_size;
}

}  // namespace trellis::host
