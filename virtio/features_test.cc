#include "virtio/features.h"

#include <gtest/gtest.h>

#include "virtio/ring_layout.h"

namespace trellis::virtio {
namespace {

TEST(FeaturesTest, DescribesTransportBitsByNameAndOthersByNumber) {
  EXPECT_EQ(DescribeFeatures(0), "none");
  EXPECT_EQ(DescribeFeatures(kFeatureBit(VIRTIO_F_VERSION_1) |
                             kFeatureBit(VIRTIO_F_RING_EVENT_IDX) | kFeatureBit(5)),
            "bit 5|RING_EVENT_IDX|VERSION_1");
}

TEST(FeaturesTest, MasksSplitDeviceAndTransportBits) {
  EXPECT_EQ(kTransportFeatureMask & kFeatureBit(23), 0u);
  EXPECT_NE(kTransportFeatureMask & kFeatureBit(24), 0u);
  EXPECT_NE(kTransportFeatureMask & kFeatureBit(49), 0u);
  EXPECT_EQ(kTransportFeatureMask & kFeatureBit(50), 0u);
  EXPECT_EQ(kDeviceFeatureMask & kSupportedTransportFeatures, 0u);
}

TEST(FeaturesTest, NamesDeviceTypesAndStatus) {
  EXPECT_EQ(DeviceTypeName(DeviceType::kBlock), "virtio-blk");
  EXPECT_EQ(DeviceTypeName(static_cast<DeviceType>(77)), "virtio device type 77");
  EXPECT_EQ(DescribeStatus(0), "0");
  EXPECT_EQ(DescribeStatus(VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_FAILED), "ACKNOWLEDGE|FAILED");
}

TEST(RingLayoutTest, NeedEventMatchesTheSpecAcrossTheWrap) {
  EXPECT_TRUE(NeedEvent(0, 1, 0));
  EXPECT_FALSE(NeedEvent(1, 1, 0));
  EXPECT_TRUE(NeedEvent(5, 8, 3));
  EXPECT_FALSE(NeedEvent(2, 8, 3));
  EXPECT_TRUE(NeedEvent(0xffff, 2, 0xfffe));
  EXPECT_TRUE(NeedEvent(0, 2, 0xfffe));
  EXPECT_FALSE(NeedEvent(3, 2, 0xfffe));
}

TEST(RingLayoutTest, QueueSizesArePowersOfTwoUpTo32768) {
  EXPECT_TRUE(IsValidQueueSize(1));
  EXPECT_TRUE(IsValidQueueSize(32768));
  EXPECT_FALSE(IsValidQueueSize(0));
  EXPECT_FALSE(IsValidQueueSize(65536));
  EXPECT_FALSE(IsValidQueueSize(24));
}

}  // namespace
}  // namespace trellis::virtio
