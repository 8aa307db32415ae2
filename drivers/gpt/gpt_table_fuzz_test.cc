// Fuzz-style robustness test of ParseGpt: seeded random mutations of a small
// valid table, most resealed with valid CRCs so they reach the deeper checks,
// must each either parse into a sane table or fail cleanly, reading little.
// Run under ASan/UBSan (scripts/test --sanitize=address) to catch the rest.
#include <optional>
#include <random>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "drivers/gpt/gpt_table.h"
#include "drivers/gpt/internal/header.h"
#include "drivers/gpt/internal/little_endian.h"
#include "drivers/gpt/testing/gpt_test_support.h"
#include "drivers/gpt/testing/gpt_writer.h"
#include "drivers/gpt/testing/image_file.h"

namespace trellis::gpt {
namespace {

using testing::ImageFile;

// 128 blocks: MBR, header, 4 entry blocks, usable 6..121, 4 entry blocks,
// backup header at 127.
constexpr uint32_t kBlockSize = 512;
constexpr uint64_t kSmallBlockCount = 128;
constexpr uint64_t kSmallLastLba = kSmallBlockCount - 1;

testing::GptLayout Seed() {
  auto guid = [](uint8_t fill) {
    Guid g;
    g.bytes.fill(std::byte{fill});
    return g;
  };
  return {.entry_count = 16,
          .disk_guid = guid(0xd1),
          .partitions = {
              {.index = 0, .name = "a", .type_guid = guid(1), .first_lba = 6, .last_lba = 40},
              {.index = 3, .name = "b", .type_guid = guid(2), .first_lba = 41, .last_lba = 41},
              {.index = 15, .name = "c", .type_guid = guid(3), .first_lba = 60, .last_lba = 121},
          }};
}

class Mutator {
 public:
  explicit Mutator(uint64_t seed) : rng_(seed) {}

  // Applies 1..4 mutations to `image`: a random byte, or an interesting
  // value in a header field or an entry's LBA fields.
  Result<void> Mutate(ImageFile& image) {
    const int count = Pick(1, 4);
    for (int i = 0; i < count; ++i) {
      const uint64_t header = Pick(0, 1) ? 1 : kSmallLastLba;
      const uint64_t entries = header == 1 ? 2 : kSmallLastLba - 4;
      uint64_t offset;
      switch (Pick(0, 3)) {
        case 0:  // any byte of the metadata at either end
          offset = Pick(0, 1) ? Pick(0, 6 * kBlockSize - 1)
                              : Pick((kSmallLastLba - 4) * kBlockSize, kSmallBlockCount * kBlockSize - 1);
          TRELLIS_TRY(image.Write(offset, std::vector<std::byte>{std::byte(Pick(0, 255))}));
          continue;
        case 1:  // a 32-bit header field
          offset = header * kBlockSize + 8 + 4 * Pick(0, 1) + (Pick(0, 1) ? 72 : 0);
          break;
        case 2:  // a 64-bit header field, or the 32-bit count/size pair as one
          offset = header * kBlockSize + 24 + 8 * Pick(0, 7);
          break;
        default:  // an entry's first or last LBA
          offset = entries * kBlockSize + 128 * Pick(0, 15) + 32 + 8 * Pick(0, 1);
          break;
      }
      TRELLIS_TRY(image.Write(offset, Interesting()));
    }
    return Ok();
  }

  uint64_t Pick(uint64_t low, uint64_t high) {
    return std::uniform_int_distribution<uint64_t>(low, high)(rng_);
  }

 private:
  std::vector<std::byte> Interesting() {
    static constexpr uint64_t kValues[] = {
        0, 1, 2, 5, 6, 40, 41, 121, 122, 126, 127, 128, 129, 0x4000, 0x4001,
        0x7fffffff, 0x80000000, 0xffffffff, 0x100000000, ~uint64_t{0}, ~uint64_t{0} / kBlockSize};
    uint64_t value = kValues[Pick(0, std::size(kValues) - 1)];
    std::vector<std::byte> bytes(8);
    internal::StoreLe<uint64_t>(bytes, 0, value);
    return bytes;
  }

  std::mt19937_64 rng_;
};

// Checks what ParseGpt promises about a table it returns.
void ExpectSane(const Table& table) {
  std::set<std::pair<uint64_t, uint64_t>> ranges;
  for (const Partition& p : table.partitions) {
    EXPECT_LE(p.first_lba, p.last_lba);
    EXPECT_GE(p.first_lba, table.first_usable_lba);
    EXPECT_LE(p.last_lba, table.last_usable_lba);
    EXPECT_LT(table.last_usable_lba, kSmallLastLba);
    EXPECT_FALSE(p.type_guid.IsZero());
    ranges.emplace(p.first_lba, p.last_lba);
  }
  std::optional<uint64_t> previous_end;
  for (const auto& [first_lba, last_lba] : ranges) {
    if (previous_end) {
      EXPECT_GT(first_lba, *previous_end) << "overlap";
    }
    previous_end = last_lba;
  }
}

TEST(GptTableFuzzTest, RandomMutationsParseSaneOrFailCleanly) {
  auto image = ImageFile::Create(kSmallBlockCount * kBlockSize);
  ASSERT_TRUE(image) << image.error().ToString();
  ASSERT_TRUE(testing::WriteGpt(*image, Seed()));
  auto pristine = image->Read(0, kSmallBlockCount * kBlockSize);
  ASSERT_TRUE(pristine) << pristine.error().ToString();
  ASSERT_TRUE(ParseGpt(kBlockSize, kSmallBlockCount, image->Reader()));

  Mutator mutator(/*seed=*/0x6e7f1a);
  int parsed = 0, from_backup = 0, not_found = 0, data_loss = 0;
  for (int i = 0; i < 3000; ++i) {
    SCOPED_TRACE("mutation " + std::to_string(i));
    ASSERT_TRUE(image->Write(0, *pristine));
    ASSERT_TRUE(mutator.Mutate(*image));
    if (mutator.Pick(0, 3) != 0) {
      ASSERT_TRUE(testing::Reseal(*image, kBlockSize, 1));
      ASSERT_TRUE(testing::Reseal(*image, kBlockSize, kSmallLastLba));
    }
    testing::RecordingReader reader(image->Reader());
    auto table = ParseGpt(kBlockSize, kSmallBlockCount, reader.reader());
    EXPECT_LE(reader.largest_read(), kSmallBlockCount * kBlockSize);
    if (table) {
      ++parsed;
      from_backup += table->used_backup;
      ExpectSane(*table);
      continue;
    }
    const ErrorCode code = table.error().code();
    ASSERT_TRUE(code == ErrorCode::kDataLoss || code == ErrorCode::kNotFound)
        << table.error().ToString();
    (code == ErrorCode::kNotFound ? not_found : data_loss)++;
  }
  // The mutations reach every outcome, so the test is not vacuous.
  EXPECT_GT(parsed, 0);
  EXPECT_GT(from_backup, 0);
  EXPECT_GT(not_found, 0);
  EXPECT_GT(data_loss, 0);
}

}  // namespace
}  // namespace trellis::gpt
