// Each GPT header check, on sgdisk-made images whose header fields are
// rewritten with the header CRC fixed up, so only that check can catch them.
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "drivers/gpt/gpt_table.h"
#include "drivers/gpt/internal/header.h"
#include "drivers/gpt/testing/gpt_test_support.h"
#include "drivers/gpt/testing/gpt_writer.h"
#include "drivers/gpt/testing/image_file.h"
#include "drivers/gpt/testing/sgdisk.h"

namespace trellis::gpt {
namespace {

using ::testing::HasSubstr;
using testing::ImageFile;
using namespace internal;  // the header field offsets

using testing::kImageSize;
using testing::kImageBlocks;
using testing::kImageLastLba;
constexpr uint64_t kEntryArrayBytes = 128 * 128;  // what sgdisk writes

struct BadField {
  std::string name;  // how the case prints, and so its ctest name
  size_t offset;
  int width;  // 4 or 8 bytes
  uint64_t value;
  std::string reason;  // how the message for either header starts
};

void PrintTo(const BadField& f, std::ostream* os) { *os << f.name; }

class GptHeaderImageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sgdisk_ = testing::FindSgdisk();
    if (sgdisk_.empty()) GTEST_SKIP() << "sgdisk (Debian package gdisk) is not installed";
  }

  Result<ImageFile> MakeImage() {
    return testing::MakeSgdiskImage(
        sgdisk_, {"-n", "1:2048:+2M", "-c", "1:boot", "-n", "2:0:0", "-c", "2:data"}, kImageSize,
        testing::kImageCacheDir);
  }

  static Result<void> SetField(ImageFile& image, uint64_t lba, const BadField& f) {
    if (f.width == 4) {
      return testing::SetHeaderField32(image, 512, lba, f.offset, static_cast<uint32_t>(f.value));
    }
    return testing::SetHeaderField64(image, 512, lba, f.offset, f.value);
  }

  std::string sgdisk_;
};

class GptHeaderTest : public GptHeaderImageTest, public ::testing::WithParamInterface<BadField> {};

TEST_P(GptHeaderTest, BadPrimaryFallsBackAndBadBothFailsWithoutLargeReads) {
  const BadField& field = GetParam();
  auto image = MakeImage();
  ASSERT_TRUE(image) << image.error().ToString();
  auto pristine = ParseGpt(512, kImageBlocks, image->Reader());
  ASSERT_TRUE(pristine) << pristine.error().ToString();

  ASSERT_TRUE(SetField(*image, 1, field));
  testing::RecordingReader primary_bad(image->Reader());
  auto table = ParseGpt(512, kImageBlocks, primary_bad.reader());
  ASSERT_TRUE(table) << table.error().ToString();
  EXPECT_TRUE(table->used_backup);
  EXPECT_EQ(table->partitions, pristine->partitions);
  EXPECT_LE(primary_bad.largest_read(), kEntryArrayBytes);

  ASSERT_TRUE(SetField(*image, kImageLastLba, field));
  testing::RecordingReader both_bad(image->Reader());
  table = ParseGpt(512, kImageBlocks, both_bad.reader());
  ASSERT_FALSE(table);
  EXPECT_EQ(table.error().code(), ErrorCode::kDataLoss);
  EXPECT_THAT(table.error().message(), HasSubstr("primary GPT header at LBA 1: " + field.reason));
  EXPECT_THAT(table.error().message(),
              HasSubstr("; backup GPT header at LBA 16383: " + field.reason));
  EXPECT_LE(both_bad.largest_read(), 512u);
}

INSTANTIATE_TEST_SUITE_P(
    EachCheck, GptHeaderTest,
    ::testing::Values(
        BadField{"RevisionTwo", kRevisionOffset, 4, 0x00020000,
                 "unsupported revision 0x00020000 (want 1.x)"},
        BadField{"HeaderSizeTooSmall", kHeaderSizeOffset, 4, 91,
                 "header size 91 outside 92..512"},
        BadField{"HeaderSizeTooLarge", kHeaderSizeOffset, 4, 513,
                 "header size 513 outside 92..512"},
        BadField{"WrongMyLba", kMyLbaOffset, 8, 5, "MyLBA is 5, not "},
        BadField{"AlternateLbaZero", kAlternateLbaOffset, 8, 0,
                 "AlternateLBA 0 is not another LBA in 1..16383"},
        BadField{"AlternateLbaPastDisk", kAlternateLbaOffset, 8, kImageBlocks,
                 "AlternateLBA 16384 is not another LBA"},
        BadField{"FirstUsableZero", kFirstUsableLbaOffset, 8, 0,
                 "usable LBAs 0..16350 are not an ordered range"},
        BadField{"FirstUsableAfterLast", kFirstUsableLbaOffset, 8, 20000,
                 "usable LBAs 20000..16350 are not an ordered range"},
        BadField{"LastUsablePastDisk", kLastUsableLbaOffset, 8, kImageBlocks,
                 "usable LBAs 34..16384 are not an ordered range"},
        BadField{"UsableIncludesPrimaryHeader", kFirstUsableLbaOffset, 8, 1,
                 "usable LBAs 1..16350 include a GPT header"},
        BadField{"UsableIncludesBackupHeader", kLastUsableLbaOffset, 8, kImageLastLba,
                 "usable LBAs 34..16383 include a GPT header"},
        BadField{"EntrySize64", kEntrySizeOffset, 4, 64,
                 "partition entry size 64 is not 128 times a power of two"},
        BadField{"EntrySize129", kEntrySizeOffset, 4, 129,
                 "partition entry size 129 is not 128 times a power of two"},
        BadField{"EntrySize384", kEntrySizeOffset, 4, 384,
                 "partition entry size 384 is not 128 times a power of two"},
        BadField{"EntrySizeHuge", kEntrySizeOffset, 4, uint64_t{1} << 31,
                 "partition entry array of 128 x 2147483648 bytes exceeds the limit of 4194304"},
        BadField{"EntryCountHuge", kEntryCountOffset, 4, 0xFFFFFFFF,
                 "4294967295 partition entries exceed the limit of 16384"},
        BadField{"EntryCountOverCap", kEntryCountOffset, 4, 16384 + 1,
                 "16385 partition entries exceed the limit of 16384"},
        BadField{"EntriesAtLba0", kEntriesLbaOffset, 8, 0,
                 "partition entry array at LBA 0 (32 blocks) does not fit in LBAs 1..16383"},
        BadField{"EntriesPastDisk", kEntriesLbaOffset, 8, kImageLastLba,
                 "partition entry array at LBA 16383 (32 blocks) does not fit in LBAs 1..16383"},
        BadField{"EntriesFarPastDisk", kEntriesLbaOffset, 8, ~uint64_t{0},
                 "partition entry array at LBA 18446744073709551615 (32 blocks) does not fit"},
        BadField{"EntriesOverlapHeader", kEntriesLbaOffset, 8, 1,
                 "partition entry array (LBA 1..32) overlaps a GPT header"},
        BadField{"EntriesOverlapUsable", kEntriesLbaOffset, 8, 30,
                 "partition entry array (LBA 30..61) overlaps the usable LBAs 34..16350"}));

TEST_F(GptHeaderImageTest, NoSignatureInEitherHeaderIsNoGpt) {
  auto image = MakeImage();
  ASSERT_TRUE(image) << image.error().ToString();
  ASSERT_TRUE(image->FlipByte(512));
  auto table = ParseGpt(512, kImageBlocks, image->Reader());
  ASSERT_TRUE(table) << table.error().ToString();
  EXPECT_TRUE(table->used_backup);

  ASSERT_TRUE(image->FlipByte(kImageLastLba * 512));
  table = ParseGpt(512, kImageBlocks, image->Reader());
  ASSERT_FALSE(table);
  EXPECT_EQ(table.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(table.error().message(), "no GPT: no 'EFI PART' signature at LBA 1 or LBA 16383");
}

TEST_F(GptHeaderImageTest, NoSignatureAndBadCrcIsDataLoss) {
  auto image = MakeImage();
  ASSERT_TRUE(image) << image.error().ToString();
  ASSERT_TRUE(image->FlipByte(512));
  ASSERT_TRUE(image->FlipByte(kImageLastLba * 512 + kDiskGuidOffset));
  auto table = ParseGpt(512, kImageBlocks, image->Reader());
  ASSERT_FALSE(table);
  EXPECT_EQ(table.error().code(), ErrorCode::kDataLoss);
  EXPECT_THAT(table.error().message(),
              HasSubstr("primary GPT header at LBA 1: no 'EFI PART' signature; backup GPT header "
                        "at LBA 16383: CRC mismatch"));
}

TEST_F(GptHeaderImageTest, LaterMinorRevisionAndFullBlockHeaderAreAccepted) {
  auto image = MakeImage();
  ASSERT_TRUE(image) << image.error().ToString();
  ASSERT_TRUE(SetField(*image, 1, {"", kRevisionOffset, 4, 0x00010001, ""}));
  ASSERT_TRUE(SetField(*image, 1, {"", kHeaderSizeOffset, 4, 512, ""}));
  auto table = ParseGpt(512, kImageBlocks, image->Reader());
  ASSERT_TRUE(table) << table.error().ToString();
  EXPECT_FALSE(table->used_backup);
  EXPECT_EQ(table->partitions.size(), 2u);
}

}  // namespace
}  // namespace trellis::gpt
