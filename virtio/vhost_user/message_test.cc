// The wire format: request layouts byte for byte, and strict reply checks.
#include "virtio/vhost_user/message.h"

#include <gtest/gtest.h>

#include <cstring>

namespace trellis::vhost_user {
namespace {

template <typename T>
T At(const std::vector<std::byte>& bytes, size_t offset) {
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

TEST(MessageTest, RequestHeaderCarriesVersionSizeAndNeedReply) {
  auto plain = EncodeRequest(Request::kSetFeatures, EncodeU64(0x1234), false);
  ASSERT_EQ(plain.size(), 20u);
  EXPECT_EQ(At<uint32_t>(plain, 0), 2u);
  EXPECT_EQ(At<uint32_t>(plain, 4), 0x1u);
  EXPECT_EQ(At<uint32_t>(plain, 8), 8u);
  EXPECT_EQ(At<uint64_t>(plain, 12), 0x1234u);

  auto acked = EncodeRequest(Request::kSetOwner, {}, true);
  ASSERT_EQ(acked.size(), 12u);
  EXPECT_EQ(At<uint32_t>(acked, 4), 0x1u | 0x8u);
  EXPECT_EQ(At<uint32_t>(acked, 8), 0u);
}

TEST(MessageTest, MemTableLaysOutCountPaddingAndRegions) {
  MemoryRegion regions[] = {{.guest_phys_addr = 0x1000,
                             .memory_size = 0x2000,
                             .userspace_addr = 0x3000,
                             .mmap_offset = 0x40,
                             .fd = 7}};
  auto payload = EncodeMemTable(regions);
  ASSERT_TRUE(payload.has_value());
  ASSERT_EQ(payload->size(), 8u + 32u);
  EXPECT_EQ(At<uint32_t>(*payload, 0), 1u);
  EXPECT_EQ(At<uint32_t>(*payload, 4), 0u);
  EXPECT_EQ(At<uint64_t>(*payload, 8), 0x1000u);
  EXPECT_EQ(At<uint64_t>(*payload, 16), 0x2000u);
  EXPECT_EQ(At<uint64_t>(*payload, 24), 0x3000u);
  EXPECT_EQ(At<uint64_t>(*payload, 32), 0x40u);
}

TEST(MessageTest, MemTableRefusesNoneOrMoreThanEightRegions) {
  EXPECT_EQ(EncodeMemTable({}).error().code(), ErrorCode::kInvalidArgument);
  std::vector<MemoryRegion> nine(9, MemoryRegion{.memory_size = 1, .fd = 3});
  EXPECT_EQ(EncodeMemTable(nine).error().code(), ErrorCode::kInvalidArgument);
}

TEST(MessageTest, VringAddrIsIndexFlagsThenFourAddresses) {
  auto payload = EncodeVringAddr(
      {.index = 1, .flags = 0, .desc = 0x10, .used = 0x20, .avail = 0x30, .log = 0x40});
  ASSERT_EQ(payload.size(), 40u);
  EXPECT_EQ(At<uint32_t>(payload, 0), 1u);
  EXPECT_EQ(At<uint64_t>(payload, 8), 0x10u);
  EXPECT_EQ(At<uint64_t>(payload, 16), 0x20u);
  EXPECT_EQ(At<uint64_t>(payload, 24), 0x30u);
  EXPECT_EQ(At<uint64_t>(payload, 32), 0x40u);
}

TEST(MessageTest, ConfigRequestCarriesRoomForTheAnswer) {
  auto payload = EncodeConfigRequest(4, 8);
  ASSERT_TRUE(payload.has_value());
  ASSERT_EQ(payload->size(), 12u + 8u);
  EXPECT_EQ(At<uint32_t>(*payload, 0), 4u);
  EXPECT_EQ(At<uint32_t>(*payload, 4), 8u);
  EXPECT_EQ(At<uint32_t>(*payload, 8), 0u);
  EXPECT_EQ(EncodeConfigRequest(0, 0).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(EncodeConfigRequest(0, 257).error().code(), ErrorCode::kInvalidArgument);
}

TEST(MessageTest, ReplyCheckAcceptsAWellFormedReply) {
  EXPECT_TRUE(CheckReply({.request = 1, .flags = 0x5, .size = 8}, Request::kGetFeatures, 8));
  // libvhost-user echoes the request's need_reply bit in some replies.
  EXPECT_TRUE(CheckReply({.request = 1, .flags = 0xd, .size = 8}, Request::kGetFeatures, 8));
}

TEST(MessageTest, ReplyCheckNamesTheRequestAndTheFault) {
  auto wrong_version =
      CheckReply({.request = 1, .flags = 0x6, .size = 8}, Request::kGetFeatures, 8);
  ASSERT_FALSE(wrong_version);
  EXPECT_EQ(wrong_version.error().code(), ErrorCode::kInternal);
  EXPECT_NE(wrong_version.error().message().find("GET_FEATURES reply has version 2"),
            std::string::npos)
      << wrong_version.error().message();

  auto no_reply_flag =
      CheckReply({.request = 1, .flags = 0x1, .size = 8}, Request::kGetFeatures, 8);
  ASSERT_FALSE(no_reply_flag);
  EXPECT_NE(no_reply_flag.error().message().find("GET_FEATURES reply lacks the reply flag"),
            std::string::npos);

  auto other = CheckReply({.request = 2, .flags = 0x5, .size = 8}, Request::kGetFeatures, 8);
  ASSERT_FALSE(other);
  EXPECT_NE(other.error().message().find("reply to GET_FEATURES is for SET_FEATURES"),
            std::string::npos);

  auto size = CheckReply({.request = 24, .flags = 0x5, .size = 12}, Request::kGetConfig, 24);
  ASSERT_FALSE(size);
  EXPECT_EQ(size.error().message(), "GET_CONFIG reply has 12 bytes, expected 24");

  auto unknown = CheckReply({.request = 99, .flags = 0x5, .size = 8}, Request::kGetFeatures, 8);
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message().find("request 99"), std::string::npos);
}

TEST(MessageTest, PayloadDecodersWantExactSizes) {
  std::vector<std::byte> four(4);
  EXPECT_EQ(DecodeU64(Request::kGetFeatures, four).error().message(),
            "GET_FEATURES reply has 4 bytes, expected 8");
  auto state = DecodeVringState(Request::kGetVringBase, EncodeVringState({.index = 0, .num = 7}));
  ASSERT_TRUE(state);
  EXPECT_EQ(state->num, 7u);
}

TEST(MessageTest, ConfigReplyMustEchoOffsetAndSize) {
  auto reply = *EncodeConfigRequest(0, 8);
  reply[12] = std::byte{0x2a};
  auto config = DecodeConfigReply(reply, 0, 8);
  ASSERT_TRUE(config);
  ASSERT_EQ(config->size(), 8u);
  EXPECT_EQ((*config)[0], std::byte{0x2a});
  EXPECT_FALSE(DecodeConfigReply(reply, 4, 8));  // Asked another offset.
  EXPECT_FALSE(DecodeConfigReply(reply, 0, 4));  // Asked another size.
}

}  // namespace
}  // namespace trellis::vhost_user
