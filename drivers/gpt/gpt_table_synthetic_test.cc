// ParseGpt on tables this test writes itself: 4096-byte blocks (sgdisk 1.0.9
// always uses 512-byte sectors on a file), blank disks and bad arguments.
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "drivers/gpt/gpt_table.h"
#include "drivers/gpt/internal/header.h"
#include "drivers/gpt/testing/gpt_test_support.h"
#include "drivers/gpt/testing/gpt_writer.h"
#include "drivers/gpt/testing/image_file.h"

namespace trellis::gpt {
namespace {

using ::testing::HasSubstr;
using testing::ImageFile;

using testing::kImageSize;

Guid MustParseGuid(std::string_view text) {
  auto guid = ParseGuid(text);
  EXPECT_TRUE(guid) << guid.error().ToString();
  return guid.value_or(Guid{});
}

// 2048 blocks of 4096 bytes: the 128-entry array takes 4 blocks, so the
// usable LBAs are 6..2042.
testing::GptLayout FourKibLayout() {
  return testing::GptLayout{
      .block_size = 4096,
      .disk_guid = MustParseGuid("5d2f1e3c-0b4a-4f6e-9a8b-7c6d5e4f3a2b"),
      .partitions = {
          Partition{.index = 0,
                    .name = "EFI system",
                    .type_guid = MustParseGuid("c12a7328-f81f-11d2-ba4b-00a0c93ec93b"),
                    .unique_guid = MustParseGuid("11111111-2222-3333-4444-555555555555"),
                    .first_lba = 6,
                    .last_lba = 261,
                    .attributes = 1,
                    .block_size = 4096},
          Partition{.index = 5,
                    .name = "root 😀 Ü",
                    .type_guid = MustParseGuid("4f68bce3-e8cd-4db1-96e7-fbcaf984b709"),
                    .unique_guid = MustParseGuid("66666666-7777-8888-9999-aaaaaaaaaaaa"),
                    .first_lba = 262,
                    .last_lba = 2042,
                    .block_size = 4096},
      }};
}

TEST(GptSyntheticTest, ReadsFourKibBlockTable) {
  auto image = ImageFile::Create(kImageSize);
  ASSERT_TRUE(image) << image.error().ToString();
  const testing::GptLayout layout = FourKibLayout();
  ASSERT_TRUE(testing::WriteGpt(*image, layout));
  auto table = ParseGpt(4096, kImageSize / 4096, image->Reader());
  ASSERT_TRUE(table) << table.error().ToString();
  EXPECT_FALSE(table->used_backup);
  EXPECT_EQ(table->disk_guid, layout.disk_guid);
  EXPECT_EQ(table->first_usable_lba, 6u);
  EXPECT_EQ(table->last_usable_lba, 2042u);
  EXPECT_EQ(table->partitions, layout.partitions);
  EXPECT_EQ(table->partitions[0].offset_bytes(), 6u * 4096);
  EXPECT_EQ(table->partitions[0].size_bytes(), 1u << 20);
}

TEST(GptSyntheticTest, FourKibBlockTableFallsBackToBackup) {
  auto image = ImageFile::Create(kImageSize);
  ASSERT_TRUE(image) << image.error().ToString();
  const testing::GptLayout layout = FourKibLayout();
  ASSERT_TRUE(testing::WriteGpt(*image, layout));
  ASSERT_TRUE(image->FlipByte(4096 + internal::kDiskGuidOffset));
  auto table = ParseGpt(4096, kImageSize / 4096, image->Reader());
  ASSERT_TRUE(table) << table.error().ToString();
  EXPECT_TRUE(table->used_backup);
  EXPECT_EQ(table->partitions, layout.partitions);
}

TEST(GptSyntheticTest, FourKibBlockTableReadWith512ByteBlocksIsNoGpt) {
  auto image = ImageFile::Create(kImageSize);
  ASSERT_TRUE(image) << image.error().ToString();
  ASSERT_TRUE(testing::WriteGpt(*image, FourKibLayout()));
  auto table = ParseGpt(512, kImageSize / 512, image->Reader());
  ASSERT_FALSE(table);
  EXPECT_EQ(table.error().code(), ErrorCode::kNotFound);
}

TEST(GptSyntheticTest, AllZeroDiskIsNoGpt) {
  auto image = ImageFile::Create(kImageSize);
  ASSERT_TRUE(image) << image.error().ToString();
  auto table = ParseGpt(512, kImageSize / 512, image->Reader());
  ASSERT_FALSE(table);
  EXPECT_EQ(table.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(table.error().message(), "no GPT: no 'EFI PART' signature at LBA 1 or LBA 16383");
}

TEST(GptSyntheticTest, BadGeometryIsRefusedBeforeAnyRead) {
  struct Case {
    uint32_t block_size;
    uint64_t block_count;
  };
  for (const Case c : {Case{0, 100}, Case{256, 100}, Case{1000, 100}, Case{131072, 100},
                       Case{512, 2}, Case{512, ~uint64_t{0}}, Case{4096, uint64_t{1} << 53}}) {
    SCOPED_TRACE(std::to_string(c.block_size) + " x " + std::to_string(c.block_count));
    int reads = 0;
    auto table = ParseGpt(c.block_size, c.block_count, [&](uint64_t, std::span<std::byte>) {
      ++reads;
      return Ok();
    });
    ASSERT_FALSE(table);
    EXPECT_EQ(table.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(reads, 0);
  }
}

TEST(GptSyntheticTest, ErrorNamesPartitionWithControlCharactersMasked) {
  auto image = ImageFile::Create(kImageSize);
  ASSERT_TRUE(image) << image.error().ToString();
  testing::GptLayout layout = FourKibLayout();
  layout.partitions[1].name = "evil\nline";
  layout.partitions[1].first_lba = 200;  // overlaps partition 1
  ASSERT_TRUE(testing::WriteGpt(*image, layout));
  auto table = ParseGpt(4096, kImageSize / 4096, image->Reader());
  ASSERT_FALSE(table);
  EXPECT_EQ(table.error().code(), ErrorCode::kDataLoss);
  EXPECT_THAT(table.error().message(),
              HasSubstr("partition 6 'evil?line' (LBA 200..2042) overlaps partition 1 'EFI "
                        "system' (LBA 6..261)"));
}

TEST(GptSyntheticTest, ZeroEntriesIsAnEmptyTable) {
  auto image = ImageFile::Create(kImageSize);
  ASSERT_TRUE(image) << image.error().ToString();
  testing::GptLayout layout{.block_size = 512, .entry_count = 0};
  ASSERT_TRUE(testing::WriteGpt(*image, layout));
  auto table = ParseGpt(512, kImageSize / 512, image->Reader());
  ASSERT_TRUE(table) << table.error().ToString();
  EXPECT_TRUE(table->partitions.empty());
}

// Found by gpt_fuzz (corpus/gpt/regress_empty_array_far_lba): the entry LBA
// of an empty array is not checked, so it must not be read either.
TEST(GptSyntheticTest, ZeroEntriesWithEntryLbaPastTheDiskReadsOnlyInsideTheDisk) {
  auto image = ImageFile::Create(kImageSize);
  ASSERT_TRUE(image) << image.error().ToString();
  ASSERT_TRUE(testing::WriteGpt(*image, testing::GptLayout{.block_size = 512, .entry_count = 0}));
  ASSERT_TRUE(
      testing::SetHeaderField64(*image, 512, 1, internal::kEntriesLbaOffset, uint64_t{1} << 40));
  std::vector<std::pair<uint64_t, size_t>> outside;
  auto table = ParseGpt(512, kImageSize / 512, [&](uint64_t offset, std::span<std::byte> out) {
    if (offset > kImageSize || out.size() > kImageSize - offset) {
      outside.emplace_back(offset, out.size());
    }
    return image->Reader()(offset, out);
  });
  ASSERT_TRUE(table) << table.error().ToString();
  EXPECT_FALSE(table->used_backup);
  EXPECT_TRUE(table->partitions.empty());
  EXPECT_TRUE(outside.empty()) << "read " << outside.size() << " ranges outside the disk, first at "
                               << outside.front().first;
}

}  // namespace
}  // namespace trellis::gpt
