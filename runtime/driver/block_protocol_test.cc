#include "runtime/driver/block_protocol.h"

#include <gtest/gtest.h>

#include <optional>
#include <vector>

namespace trellis {
namespace {

const BlockInfo kInfo{.block_size = 512, .block_count = 100, .max_transfer_size = 4096};

// The refusal's code; nullopt if the request is valid.
std::optional<ErrorCode> CodeOf(const BlockInfo& info, const BlockRequest& request) {
  auto result = ValidateBlockRequest(info, request);
  if (result) return std::nullopt;
  return result.error().code();
}

TEST(BlockProtocolTest, RequestsInsideTheDeviceAreValid) {
  std::vector<std::byte> data(1024);
  EXPECT_EQ(CodeOf(kInfo, {.op = BlockOp::kRead, .offset_blocks = 98, .length_blocks = 2, .data = data}),
            std::nullopt);
  EXPECT_EQ(CodeOf(kInfo, {.op = BlockOp::kFlush}), std::nullopt);
  EXPECT_EQ(CodeOf(kInfo, {.op = BlockOp::kDiscard, .offset_blocks = 0, .length_blocks = 100}),
            std::nullopt);
}

TEST(BlockProtocolTest, RangesPastTheEndAreOutOfRangeWithoutOverflow) {
  EXPECT_EQ(CodeOf(kInfo, {.op = BlockOp::kDiscard, .offset_blocks = 99, .length_blocks = 2}),
            ErrorCode::kOutOfRange);
  EXPECT_EQ(CodeOf(kInfo, {.op = BlockOp::kDiscard, .offset_blocks = UINT64_MAX, .length_blocks = 1}),
            ErrorCode::kOutOfRange);
  EXPECT_EQ(CodeOf(kInfo, {.op = BlockOp::kWriteZeroes, .offset_blocks = 1, .length_blocks = UINT64_MAX}),
            ErrorCode::kOutOfRange);
}

TEST(BlockProtocolTest, SizesAndReadOnlyAreChecked) {
  std::vector<std::byte> small(100);
  EXPECT_EQ(CodeOf(kInfo, {.op = BlockOp::kRead, .offset_blocks = 0, .length_blocks = 1, .data = small}),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(kInfo, {.op = BlockOp::kRead, .offset_blocks = 0, .length_blocks = 0}),
            ErrorCode::kInvalidArgument);
  std::vector<std::byte> big(8192);
  EXPECT_EQ(CodeOf(kInfo, {.op = BlockOp::kWrite, .offset_blocks = 0, .length_blocks = 16, .data = big}),
            ErrorCode::kInvalidArgument)
      << "above max_transfer_size";
  BlockInfo read_only = kInfo;
  read_only.read_only = true;
  EXPECT_EQ(CodeOf(read_only, {.op = BlockOp::kDiscard, .offset_blocks = 0, .length_blocks = 1}),
            ErrorCode::kPermissionDenied);
}

TEST(BlockProtocolTest, ADriverReportingABadBlockSizeGetsInternalNotACrash) {
  for (uint32_t size : {0u, 100u, 1000u, 131072u}) {
    BlockInfo bad = kInfo;
    bad.block_size = size;
    std::vector<std::byte> data(512);
    EXPECT_EQ(CodeOf(bad, {.op = BlockOp::kRead, .offset_blocks = 0, .length_blocks = 1, .data = data}),
              ErrorCode::kInternal)
        << size;
  }
}

}  // namespace
}  // namespace trellis
