#include "drivers/virtio-blk/blk_wire.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <cstring>

namespace trellis::virtio_blk {
namespace {

using ::testing::HasSubstr;

// A configuration space as a device would write it.
struct ConfigBytes {
  std::array<std::byte, kConfigSize> bytes{};
  template <typename T>
  ConfigBytes& Set(size_t offset, T value) {
    std::memcpy(bytes.data() + offset, &value, sizeof(T));
    return *this;
  }
};

constexpr uint64_t kAll = Bit(kFeatureSizeMax) | Bit(kFeatureSegMax) | Bit(kFeatureBlockSize) |
                          Bit(kFeatureTopology) | Bit(kFeatureDiscard) | Bit(kFeatureWriteZeroes);

TEST(BlkWireTest, AcceptsWhatTheDriverUsesAndNothingElse) {
  uint64_t offered = ~uint64_t{0};
  uint64_t accepted = AcceptedFeatures(offered);
  EXPECT_TRUE(accepted & Bit(kFeatureFlush));
  EXPECT_TRUE(accepted & Bit(kFeatureReadOnly));
  EXPECT_FALSE(accepted & Bit(kFeatureMultiQueue));
  EXPECT_FALSE(accepted & Bit(kFeatureConfigWce));
  EXPECT_FALSE(accepted & Bit(kFeatureGeometry));
  EXPECT_FALSE(accepted & (uint64_t{1} << 32));  // Transport bits are not the driver's.
  EXPECT_EQ(AcceptedFeatures(0), 0u);
}

TEST(BlkWireTest, ParsesEveryFieldAtItsSpecOffset) {
  ConfigBytes c;
  c.Set<uint64_t>(0, 2048)
      .Set<uint32_t>(8, 65536)
      .Set<uint32_t>(12, 126)
      .Set<uint32_t>(20, 4096)
      .Set<uint32_t>(28, 32)
      .Set<uint32_t>(36, 8192)
      .Set<uint32_t>(48, 4096)
      .Set<uint8_t>(56, 1);
  auto config = ParseConfig(c.bytes, kAll);
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_EQ(config->capacity_sectors, 2048u);
  EXPECT_EQ(config->size_max, 65536u);
  EXPECT_EQ(config->seg_max, 126u);
  EXPECT_EQ(config->block_size, 4096u);
  EXPECT_EQ(config->optimal_io_blocks, 32u);
  EXPECT_EQ(config->max_discard_sectors, 8192u);
  EXPECT_EQ(config->max_write_zeroes_sectors, 4096u);
  EXPECT_TRUE(config->write_zeroes_may_unmap);

  BlockInfo info = InfoOf(*config, kAll | Bit(kFeatureReadOnly), 1 << 20);
  EXPECT_EQ(info.block_size, 4096u);
  EXPECT_EQ(info.block_count, 256u);
  EXPECT_TRUE(info.read_only);
  EXPECT_EQ(info.max_transfer_size, 1u << 20);  // Ours is below 64 KiB * 126.
  EXPECT_EQ(info.optimal_transfer_size, 32u * 4096);
  EXPECT_TRUE(ValidateBlockInfo(info));
}

TEST(BlkWireTest, FieldsOfFeaturesNotNegotiatedAreIgnored) {
  ConfigBytes c;
  c.Set<uint64_t>(0, 100).Set<uint32_t>(20, 3);  // A junk blk_size without BLK_SIZE.
  auto config = ParseConfig(c.bytes, 0);
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_EQ(config->block_size, 512u);
  BlockInfo info = InfoOf(*config, 0, 1 << 20);
  EXPECT_EQ(info.block_count, 100u);
  EXPECT_FALSE(info.read_only);
  EXPECT_EQ(info.max_transfer_size, 1u << 20);
}

TEST(BlkWireTest, DeviceLimitsCapTheTransferSize) {
  ConfigBytes c;
  c.Set<uint64_t>(0, 100).Set<uint32_t>(8, 4096).Set<uint32_t>(12, 3);
  auto config = ParseConfig(c.bytes, kAll & ~Bit(kFeatureBlockSize));
  ASSERT_TRUE(config);
  EXPECT_EQ(InfoOf(*config, 0, 1 << 20).max_transfer_size, 12288u);
}

TEST(BlkWireTest, NonsenseFromTheDeviceIsRefusedNamingTheField) {
  ConfigBytes zero;
  auto refused = ParseConfig(zero.bytes, 0);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(refused.error().message(), HasSubstr("capacity of 0 sectors"));

  ConfigBytes odd_size;
  odd_size.Set<uint64_t>(0, 8).Set<uint32_t>(20, 1000);
  refused = ParseConfig(odd_size.bytes, Bit(kFeatureBlockSize));
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message(), HasSubstr("blk_size 1000"));

  ConfigBytes partial_block;
  partial_block.Set<uint64_t>(0, 9).Set<uint32_t>(20, 4096);
  refused = ParseConfig(partial_block.bytes, Bit(kFeatureBlockSize));
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message(), HasSubstr("not a positive number of 4096-byte blocks"));

  refused = ParseConfig(std::span(zero.bytes).first(20), 0);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), ErrorCode::kInvalidArgument);
}

TEST(BlkWireTest, StatusBytesMapToErrors) {
  EXPECT_TRUE(StatusResult(kStatusOk, "read"));
  auto io = StatusResult(kStatusIoError, "read of 1 block at block 7");
  ASSERT_FALSE(io);
  EXPECT_EQ(io.error().errno_value(), EIO);
  EXPECT_THAT(io.error().message(), HasSubstr("read of 1 block at block 7"));
  auto unsupported = StatusResult(kStatusUnsupported, "discard");
  ASSERT_FALSE(unsupported);
  EXPECT_EQ(unsupported.error().code(), ErrorCode::kUnimplemented);
  auto junk = StatusResult(77, "flush");
  ASSERT_FALSE(junk);
  EXPECT_EQ(junk.error().errno_value(), EIO);
  EXPECT_THAT(junk.error().message(), HasSubstr("status 77"));
}

}  // namespace
}  // namespace trellis::virtio_blk
