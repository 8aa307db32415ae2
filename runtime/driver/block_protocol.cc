#include "runtime/driver/block_protocol.h"

#include <string>

namespace trellis {

std::string_view BlockOpName(BlockOp op) {
  switch (op) {
    case BlockOp::kRead:
      return "read";
    case BlockOp::kWrite:
      return "write";
    case BlockOp::kFlush:
      return "flush";
    case BlockOp::kDiscard:
      return "discard";
    case BlockOp::kWriteZeroes:
      return "write-zeroes";
  }
  return "unknown";
}

Result<void> ValidateBlockInfo(const BlockInfo& info) {
  if (info.block_size < 512 || info.block_size > 65536 ||
      (info.block_size & (info.block_size - 1)) != 0) {
    return Fail(ErrorCode::kInternal, "the driver reports a block size of " +
                                          std::to_string(info.block_size) +
                                          " bytes, not a power of two in 512..65536");
  }
  return Ok();
}

Result<void> ValidateBlockRequest(const BlockInfo& info, const BlockRequest& request) {
  TRELLIS_TRY(ValidateBlockInfo(info));
  std::string what(BlockOpName(request.op));
  if (request.op == BlockOp::kFlush) return Ok();
  if (request.op != BlockOp::kRead && info.read_only) {
    return Fail(ErrorCode::kPermissionDenied, what + " on a read-only device");
  }
  if (request.length_blocks == 0) {
    return Fail(ErrorCode::kInvalidArgument, what + " of 0 blocks");
  }
  // offset + length > count, without overflow.
  if (request.offset_blocks > info.block_count ||
      request.length_blocks > info.block_count - request.offset_blocks) {
    return Fail(ErrorCode::kOutOfRange,
                what + " of blocks " + std::to_string(request.offset_blocks) + "+" +
                    std::to_string(request.length_blocks) + " past the end of the device (" +
                    std::to_string(info.block_count) + " blocks)");
  }
  if (request.op == BlockOp::kRead || request.op == BlockOp::kWrite) {
    if (request.length_blocks > UINT64_MAX / info.block_size ||
        request.data.size() != request.length_blocks * info.block_size) {
      return Fail(ErrorCode::kInvalidArgument,
                  what + " of " + std::to_string(request.length_blocks) + " blocks needs " +
                      std::to_string(request.length_blocks * info.block_size) +
                      " bytes of data, got " + std::to_string(request.data.size()));
    }
    if (info.max_transfer_size != 0 && request.data.size() > info.max_transfer_size) {
      return Fail(ErrorCode::kInvalidArgument,
                  what + " of " + std::to_string(request.data.size()) +
                      " bytes exceeds the device's max_transfer_size of " +
                      std::to_string(info.max_transfer_size));
    }
  }
  return Ok();
}

}  // namespace trellis
