#include "drivers/gpt/guid.h"

#include <gtest/gtest.h>

namespace trellis::gpt {
namespace {

// The EFI System Partition type GUID as stored on disk.
constexpr Guid kEspOnDisk{{std::byte{0x28}, std::byte{0x73}, std::byte{0x2a}, std::byte{0xc1},
                           std::byte{0x1f}, std::byte{0xf8}, std::byte{0xd2}, std::byte{0x11},
                           std::byte{0xba}, std::byte{0x4b}, std::byte{0x00}, std::byte{0xa0},
                           std::byte{0xc9}, std::byte{0x3e}, std::byte{0xc9}, std::byte{0x3b}}};

TEST(GuidTest, ToStringIsMixedEndianLowerCase) {
  EXPECT_EQ(kEspOnDisk.ToString(), "c12a7328-f81f-11d2-ba4b-00a0c93ec93b");
}

TEST(GuidTest, ParseAcceptsEitherCaseAndGivesOnDiskBytes) {
  auto lower = ParseGuid("c12a7328-f81f-11d2-ba4b-00a0c93ec93b");
  auto upper = ParseGuid("C12A7328-F81F-11D2-BA4B-00A0C93EC93B");
  ASSERT_TRUE(lower) << lower.error().ToString();
  ASSERT_TRUE(upper) << upper.error().ToString();
  EXPECT_EQ(*lower, kEspOnDisk);
  EXPECT_EQ(*upper, kEspOnDisk);
}

TEST(GuidTest, ParseRejectsMalformedText) {
  for (const char* text : {"", "c12a7328f81f11d2ba4b00a0c93ec93b",
                           "c12a7328-f81f-11d2-ba4b-00a0c93ec93",
                           "c12a7328-f81f-11d2-ba4b-00a0c93ec93bb",
                           "c12a7328_f81f-11d2-ba4b-00a0c93ec93b",
                           "g12a7328-f81f-11d2-ba4b-00a0c93ec93b"}) {
    auto guid = ParseGuid(text);
    ASSERT_FALSE(guid) << text;
    EXPECT_EQ(guid.error().code(), ErrorCode::kInvalidArgument) << text;
  }
}

TEST(GuidTest, ZeroGuidMarksUnusedEntry) {
  EXPECT_TRUE(Guid{}.IsZero());
  EXPECT_FALSE(kEspOnDisk.IsZero());
}

}  // namespace
}  // namespace trellis::gpt
