// ParseGpt on images made by sgdisk, checked against what sgdisk reports,
// and on the same images after corrupting them or making them lie.
#include "drivers/gpt/gpt_table.h"

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "drivers/gpt/internal/header.h"
#include "drivers/gpt/testing/gpt_test_support.h"
#include "drivers/gpt/testing/gpt_writer.h"
#include "drivers/gpt/testing/image_file.h"
#include "drivers/gpt/testing/sgdisk.h"

namespace trellis::gpt {
namespace {

using ::testing::HasSubstr;
using testing::ImageFile;

using testing::kImageSize;
using testing::kImageLastLba;
constexpr uint64_t kBackupEntriesLba = kImageLastLba - 32;

// boot: 2048..6143, data: 6144..16350.
const std::vector<std::string> kBootAndData = {"-n", "1:2048:+2M", "-t", "1:8300", "-c", "1:boot",
                                               "-n", "2:0:0",      "-t", "2:0700", "-c", "2:data"};

class GptTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sgdisk_ = testing::FindSgdisk();
    if (sgdisk_.empty()) GTEST_SKIP() << "sgdisk (Debian package gdisk) is not installed";
  }

  // A sparse image of `size` bytes, partitioned by `sgdisk args... image`,
  // in the temp directory.
  Result<ImageFile> MakeImage(std::vector<std::string> args, uint64_t size = kImageSize) {
    return testing::MakeSgdiskImage(sgdisk_, std::move(args), size, testing::kImageCacheDir);
  }

  // Expects `table` to say what `sgdisk -p` and `sgdisk -i N` say.
  void ExpectMatchesSgdisk(const ImageFile& image, const Table& table) {
    auto disk = testing::SgdiskPrint(sgdisk_, image.path());
    ASSERT_TRUE(disk) << disk.error().ToString();
    EXPECT_EQ(table.disk_guid, disk->disk_guid);
    EXPECT_EQ(table.first_usable_lba, disk->first_usable_lba);
    EXPECT_EQ(table.last_usable_lba, disk->last_usable_lba);
    std::vector<uint32_t> numbers;
    for (const Partition& p : table.partitions) numbers.push_back(p.index + 1);
    EXPECT_EQ(numbers, disk->numbers);
    for (const Partition& p : table.partitions) {
      SCOPED_TRACE("partition " + std::to_string(p.index + 1));
      auto info = testing::SgdiskInfo(sgdisk_, image.path(), p.index + 1);
      ASSERT_TRUE(info) << info.error().ToString();
      EXPECT_EQ(p.type_guid, info->type_guid);
      EXPECT_EQ(p.unique_guid, info->unique_guid);
      EXPECT_EQ(p.first_lba, info->first_lba);
      EXPECT_EQ(p.last_lba, info->last_lba);
      EXPECT_EQ(p.attributes, info->attributes);
      EXPECT_EQ(p.name, info->name);
    }
  }

  std::string sgdisk_;
};

Result<Table> Parse(const ImageFile& image) {
  return ParseGpt(512, image.size() / 512, image.Reader());
}

TEST_F(GptTableTest, MatchesSgdiskForTwoPartitions) {
  auto image = MakeImage(kBootAndData);
  ASSERT_TRUE(image) << image.error().ToString();
  auto table = Parse(*image);
  ASSERT_TRUE(table) << table.error().ToString();
  EXPECT_FALSE(table->used_backup);
  EXPECT_EQ(table->block_size, 512u);
  EXPECT_EQ(table->block_count, kImageSize / 512);
  ASSERT_EQ(table->partitions.size(), 2u);
  EXPECT_EQ(table->partitions[0].name, "boot");
  EXPECT_EQ(table->partitions[0].type_guid.ToString(), "0fc63daf-8483-4772-8e79-3d69d8477de4");
  EXPECT_EQ(table->partitions[0].offset_bytes(), 1u << 20);
  EXPECT_EQ(table->partitions[0].size_bytes(), 2u << 20);
  EXPECT_EQ(table->partitions[1].name, "data");
  ExpectMatchesSgdisk(*image, *table);
}

TEST_F(GptTableTest, MatchesSgdiskForGapsUnicodeNamesAndAttributes) {
  auto image = MakeImage({"-S", "256",  // 256 entries: a 64-block array
                          "-n", "1:2048:+1M", "-c", "1:Ünïcode €", "-A", "1:set:2", "-A",
                          "1:set:63", "-n", "3:0:+1M", "-t", "3:EF00", "-c", "3:EFI system",
                          "-n", "256:0:+1M", "-t", "256:8200"});
  ASSERT_TRUE(image) << image.error().ToString();
  auto table = Parse(*image);
  ASSERT_TRUE(table) << table.error().ToString();
  ASSERT_EQ(table->partitions.size(), 3u);
  EXPECT_EQ(table->partitions[0].name, "Ünïcode €");
  EXPECT_EQ(table->partitions[0].attributes, 0x8000000000000004u);
  EXPECT_EQ(table->partitions[1].index, 2u);
  EXPECT_EQ(table->partitions[1].type_guid.ToString(), "c12a7328-f81f-11d2-ba4b-00a0c93ec93b");
  EXPECT_EQ(table->partitions[2].index, 255u);
  EXPECT_EQ(table->partitions[2].name, "");
  ExpectMatchesSgdisk(*image, *table);
}

TEST_F(GptTableTest, MatchesSgdiskPast2TiB) {
  constexpr uint64_t kThreeTiB = uint64_t{3} << 40;
  if (auto probe = ImageFile::Create(kThreeTiB); !probe) {
    GTEST_SKIP() << "no 3 TiB sparse file here: " << probe.error().ToString();
  }
  auto image = MakeImage({"-n", "1:0:+1G", "-n", "2:0:0", "-c", "2:big"}, kThreeTiB);
  ASSERT_TRUE(image) << image.error().ToString();
  auto table = Parse(*image);
  ASSERT_TRUE(table) << table.error().ToString();
  ASSERT_EQ(table->partitions.size(), 2u);
  EXPECT_GT(table->partitions[1].last_lba, uint64_t{1} << 32);
  ExpectMatchesSgdisk(*image, *table);
}

TEST_F(GptTableTest, EmptyTableHasNoPartitions) {
  auto image = MakeImage({"-o"});
  ASSERT_TRUE(image) << image.error().ToString();
  auto table = Parse(*image);
  ASSERT_TRUE(table) << table.error().ToString();
  EXPECT_TRUE(table->partitions.empty());
  ExpectMatchesSgdisk(*image, *table);
}

TEST_F(GptTableTest, CorruptPrimaryHeaderFallsBackToBackup) {
  auto image = MakeImage(kBootAndData);
  ASSERT_TRUE(image) << image.error().ToString();
  auto pristine = Parse(*image);
  ASSERT_TRUE(pristine) << pristine.error().ToString();
  ASSERT_TRUE(image->FlipByte(512 + internal::kFirstUsableLbaOffset));
  auto table = Parse(*image);
  ASSERT_TRUE(table) << table.error().ToString();
  EXPECT_TRUE(table->used_backup);
  EXPECT_EQ(table->disk_guid, pristine->disk_guid);
  EXPECT_EQ(table->partitions, pristine->partitions);
}

TEST_F(GptTableTest, CorruptPrimaryEntryArrayFallsBackToBackup) {
  auto image = MakeImage(kBootAndData);
  ASSERT_TRUE(image) << image.error().ToString();
  auto pristine = Parse(*image);
  ASSERT_TRUE(pristine) << pristine.error().ToString();
  ASSERT_TRUE(image->FlipByte(2 * 512 + 128 + 56));  // entry 1's name
  auto table = Parse(*image);
  ASSERT_TRUE(table) << table.error().ToString();
  EXPECT_TRUE(table->used_backup);
  EXPECT_EQ(table->partitions, pristine->partitions);
}

TEST_F(GptTableTest, BothHeadersCorruptFailsNamingBoth) {
  auto image = MakeImage(kBootAndData);
  ASSERT_TRUE(image) << image.error().ToString();
  ASSERT_TRUE(image->FlipByte(512 + internal::kDiskGuidOffset));
  ASSERT_TRUE(image->FlipByte(kImageLastLba * 512 + internal::kDiskGuidOffset));
  auto table = Parse(*image);
  ASSERT_FALSE(table);
  EXPECT_EQ(table.error().code(), ErrorCode::kDataLoss);
  EXPECT_THAT(table.error().message(),
              ::testing::MatchesRegex("primary GPT header at LBA 1: CRC mismatch \\(stored "
                                      "0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}\\); backup GPT "
                                      "header at LBA 16383: CRC mismatch .*"));
}

TEST_F(GptTableTest, BothEntryArraysCorruptFailsNamingBoth) {
  auto image = MakeImage(kBootAndData);
  ASSERT_TRUE(image) << image.error().ToString();
  ASSERT_TRUE(image->FlipByte(2 * 512));
  ASSERT_TRUE(image->FlipByte(kBackupEntriesLba * 512));
  auto table = Parse(*image);
  ASSERT_FALSE(table);
  EXPECT_EQ(table.error().code(), ErrorCode::kDataLoss);
  EXPECT_THAT(table.error().message(), HasSubstr("primary GPT entry array at LBA 2: CRC mismatch"));
  EXPECT_THAT(table.error().message(),
              HasSubstr("backup GPT entry array at LBA " + std::to_string(kBackupEntriesLba) +
                        ": CRC mismatch"));
}

TEST_F(GptTableTest, MissingProtectiveMbrIsAccepted) {
  auto image = MakeImage(kBootAndData);
  ASSERT_TRUE(image) << image.error().ToString();
  ASSERT_TRUE(image->Write(0, std::vector<std::byte>(512)));
  auto table = Parse(*image);
  ASSERT_TRUE(table) << table.error().ToString();
  EXPECT_EQ(table->partitions.size(), 2u);
}

TEST_F(GptTableTest, HybridMbrIsAccepted) {
  auto image = MakeImage({"-n", "1:2048:+2M", "-n", "2:0:0", "-h", "1"});
  ASSERT_TRUE(image) << image.error().ToString();
  auto table = Parse(*image);
  ASSERT_TRUE(table) << table.error().ToString();
  EXPECT_EQ(table->partitions.size(), 2u);
}

TEST_F(GptTableTest, LegacyMbrWithoutProtectivePartitionIsNotGpt) {
  auto image = MakeImage(kBootAndData);
  ASSERT_TRUE(image) << image.error().ToString();
  ASSERT_TRUE(image->Write(446 + 4, std::vector<std::byte>{std::byte{0x83}}));
  auto table = Parse(*image);
  ASSERT_FALSE(table);
  EXPECT_EQ(table.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(table.error().message(), HasSubstr("legacy MBR"));
}

// Rewrites partition 2 ('data') in both copies, CRCs fixed, and expects the
// parse to fail with `message`.
class GptLyingEntryTest : public GptTableTest {
 protected:
  void ExpectRefused(uint64_t first_lba, uint64_t last_lba, const std::string& message,
                     bool backup_too = true) {
    auto image = MakeImage(kBootAndData);
    ASSERT_TRUE(image) << image.error().ToString();
    auto pristine = Parse(*image);
    ASSERT_TRUE(pristine) << pristine.error().ToString();
    Partition data = pristine->partitions[1];
    data.first_lba = first_lba;
    data.last_lba = last_lba;
    ASSERT_TRUE(testing::WriteEntry(*image, 512, 1, data));
    if (backup_too) {
      ASSERT_TRUE(testing::WriteEntry(*image, 512, kImageLastLba, data));
    }
    auto table = Parse(*image);
    ASSERT_FALSE(table);
    EXPECT_EQ(table.error().code(), ErrorCode::kDataLoss);
    EXPECT_EQ(table.error().message(), message);
  }
};

TEST_F(GptLyingEntryTest, OverlappingPartitionsAreRefused) {
  ExpectRefused(4000, 16350,
                "primary GPT: partition 2 'data' (LBA 4000..16350) overlaps partition 1 "
                "'boot' (LBA 2048..6143)");
}

TEST_F(GptLyingEntryTest, PartitionPastUsableLbasIsRefused) {
  ExpectRefused(6144, kImageLastLba,
                "primary GPT: partition 2 'data' (LBA 6144..16383) lies outside the usable "
                "LBAs 34..16350");
}

TEST_F(GptLyingEntryTest, PartitionFarPastTheDiskIsRefused) {
  ExpectRefused(uint64_t{1} << 62, ~uint64_t{0},
                "primary GPT: partition 2 'data' (LBA 4611686018427387904..18446744073709551615)"
                " lies outside the usable LBAs 34..16350");
}

TEST_F(GptLyingEntryTest, PartitionEndingBeforeItStartsIsRefused) {
  ExpectRefused(9000, 8000,
                "primary GPT: partition 2 'data' (LBA 9000..8000) ends before it starts");
}

TEST_F(GptLyingEntryTest, LyingPrimaryDoesNotFallBackToSaneBackup) {
  ExpectRefused(4000, 16350,
                "primary GPT: partition 2 'data' (LBA 4000..16350) overlaps partition 1 "
                "'boot' (LBA 2048..6143)",
                /*backup_too=*/false);
}

TEST_F(GptTableTest, ReadErrorPropagatesWithItsCodeAndMessage) {
  auto image = MakeImage(kBootAndData);
  ASSERT_TRUE(image) << image.error().ToString();
  const ReadAt inner = image->Reader();
  const ReadAt failing = [&](uint64_t offset, std::span<std::byte> out) -> Result<void> {
    if (offset == 2 * 512) return Fail(ErrorCode::kUnavailable, "device went away");
    return inner(offset, out);
  };
  auto table = ParseGpt(512, kImageSize / 512, failing);
  ASSERT_FALSE(table);
  EXPECT_EQ(table.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(table.error().message(), "reading primary GPT entry array at LBA 2: device went away");
}

TEST_F(GptTableTest, ShortReadOfBackupPropagates) {
  auto image = MakeImage(kBootAndData);
  ASSERT_TRUE(image) << image.error().ToString();
  ASSERT_TRUE(image->FlipByte(512 + internal::kDiskGuidOffset));
  // The caller claims twice the blocks the file has, so the backup read at
  // the claimed last LBA runs past the end of the file.
  auto table = ParseGpt(512, 2 * kImageSize / 512, image->Reader());
  ASSERT_FALSE(table);
  EXPECT_EQ(table.error().code(), ErrorCode::kOutOfRange);
  EXPECT_EQ(table.error().message(),
            "reading backup GPT header at LBA 32767: short read at offset 16776704: got 0 of "
            "512 bytes");
}

}  // namespace
}  // namespace trellis::gpt
