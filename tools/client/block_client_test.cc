// Tests of the parts of BlockClient that need no driver: transfer sizes and
// range checks.
#include "tools/client/block_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace trellis::client {
namespace {

using ::testing::HasSubstr;

block::v1::BlockInfo Info(uint32_t block_size, uint64_t block_count, uint32_t max_transfer) {
  block::v1::BlockInfo info;
  info.set_block_size(block_size);
  info.set_block_count(block_count);
  info.set_max_transfer_size(max_transfer);
  return info;
}

TEST(BlocksPerTransferTest, IsTheMaxTransferInWholeBlocks) {
  EXPECT_EQ(BlocksPerTransfer(Info(512, 100, 131072)), 256u);
  EXPECT_EQ(BlocksPerTransfer(Info(4096, 100, 131072 + 100)), 32u);
}

TEST(BlocksPerTransferTest, WithoutADeviceLimitIsOneMessage) {
  EXPECT_EQ(BlocksPerTransfer(Info(4096, 100, 0)), kMaxBlockPayload / 4096);
}

TEST(BlocksPerTransferTest, IsAtLeastOneBlock) {
  EXPECT_EQ(BlocksPerTransfer(Info(4096, 100, 512)), 1u);
  EXPECT_EQ(BlocksPerTransfer(Info(0, 100, 512)), 0u);
}

TEST(CheckBlockRangeTest, AcceptsRangesUpToTheLastBlock) {
  EXPECT_TRUE(CheckBlockRange(Info(512, 2048, 0), 0, 2048));
  EXPECT_TRUE(CheckBlockRange(Info(512, 2048, 0), 2047, 1));
}

TEST(CheckBlockRangeTest, RefusesRangesPastTheEndWithoutOverflowing) {
  for (auto [offset, count] :
       {std::pair<uint64_t, uint64_t>{2047, 2}, {2049, 1}, {1, UINT64_MAX}}) {
    auto checked = CheckBlockRange(Info(512, 2048, 0), offset, count);
    ASSERT_FALSE(checked) << offset << "+" << count;
    EXPECT_EQ(checked.error().code(), ErrorCode::kOutOfRange);
    EXPECT_THAT(checked.error().message(), HasSubstr("past the end of the device (2048 blocks)"));
  }
}

TEST(CheckBlockRangeTest, RefusesAnEmptyRange) {
  auto checked = CheckBlockRange(Info(512, 2048, 0), 0, 0);
  ASSERT_FALSE(checked);
  EXPECT_EQ(checked.error().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace trellis::client
