#include "drivers/gpt/testing/gpt_writer.h"

#include <algorithm>
#include <string>

#include "drivers/gpt/internal/entry.h"
#include "drivers/gpt/internal/header.h"
#include "drivers/gpt/internal/little_endian.h"

namespace trellis::gpt::testing {
namespace {

using namespace internal;  // the on-disk offsets

constexpr size_t kEntrySize = kMinEntrySize;

// UTF-8 (assumed valid) to UTF-16 code units.
std::u16string ToUtf16(const std::string& utf8) {
  std::u16string out;
  for (size_t i = 0; i < utf8.size();) {
    const auto lead = static_cast<unsigned char>(utf8[i]);
    const size_t length = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
    char32_t c = length == 1 ? lead : lead & (0x7F >> length);
    for (size_t k = 1; k < length && i + k < utf8.size(); ++k) {
      c = c << 6 | (static_cast<unsigned char>(utf8[i + k]) & 0x3F);
    }
    i += length;
    if (c >= 0x10000) {
      out += static_cast<char16_t>(0xD800 + ((c - 0x10000) >> 10));
      out += static_cast<char16_t>(0xDC00 + ((c - 0x10000) & 0x3FF));
    } else {
      out += static_cast<char16_t>(c);
    }
  }
  return out;
}

std::vector<std::byte> EncodeEntry(const Partition& p) {
  std::vector<std::byte> entry(kEntrySize);
  std::ranges::copy(p.type_guid.bytes, entry.begin() + kTypeGuidOffset);
  std::ranges::copy(p.unique_guid.bytes, entry.begin() + kUniqueGuidOffset);
  StoreLe<uint64_t>(entry, kFirstLbaOffset, p.first_lba);
  StoreLe<uint64_t>(entry, kLastLbaOffset, p.last_lba);
  StoreLe<uint64_t>(entry, kAttributesOffset, p.attributes);
  const std::u16string name = ToUtf16(p.name);
  for (size_t i = 0; i < name.size() && i < kNameBytes / 2; ++i) {
    StoreLe<uint16_t>(entry, kNameOffset + 2 * i, name[i]);
  }
  return entry;
}

std::vector<std::byte> ProtectiveMbr(uint64_t block_count) {
  std::vector<std::byte> mbr(512);
  const size_t record = 446;
  mbr[record + 4] = std::byte{0xEE};
  StoreLe<uint32_t>(mbr, record + 8, 1);  // starting LBA
  StoreLe<uint32_t>(mbr, record + 12,
                    static_cast<uint32_t>(std::min<uint64_t>(block_count - 1, 0xFFFFFFFF)));
  mbr[510] = std::byte{0x55};
  mbr[511] = std::byte{0xAA};
  return mbr;
}

struct HeaderFields {
  uint64_t my_lba, alternate_lba, first_usable, last_usable, entries_lba;
};

std::vector<std::byte> EncodeHeader(const GptLayout& layout, const HeaderFields& f,
                                    uint32_t entries_crc) {
  std::vector<std::byte> block(layout.block_size);
  for (size_t i = 0; i < 8; ++i) block[i] = std::byte("EFI PART"[i]);
  StoreLe<uint32_t>(block, kRevisionOffset, kRevision1_0);
  StoreLe<uint32_t>(block, kHeaderSizeOffset, kMinHeaderSize);
  StoreLe<uint64_t>(block, kMyLbaOffset, f.my_lba);
  StoreLe<uint64_t>(block, kAlternateLbaOffset, f.alternate_lba);
  StoreLe<uint64_t>(block, kFirstUsableLbaOffset, f.first_usable);
  StoreLe<uint64_t>(block, kLastUsableLbaOffset, f.last_usable);
  std::ranges::copy(layout.disk_guid.bytes, block.begin() + kDiskGuidOffset);
  StoreLe<uint64_t>(block, kEntriesLbaOffset, f.entries_lba);
  StoreLe<uint32_t>(block, kEntryCountOffset, layout.entry_count);
  StoreLe<uint32_t>(block, kEntrySizeOffset, kEntrySize);
  StoreLe<uint32_t>(block, kEntriesCrcOffset, entries_crc);
  StoreLe<uint32_t>(block, kHeaderCrcOffset, HeaderCrc32(block, kMinHeaderSize));
  return block;
}

}  // namespace

Result<void> WriteGpt(ImageFile& image, const GptLayout& layout) {
  const uint64_t bs = layout.block_size;
  const uint64_t block_count = image.size() / bs;
  std::vector<std::byte> entries(uint64_t{layout.entry_count} * kEntrySize);
  for (const Partition& p : layout.partitions) {
    if (p.index >= layout.entry_count) {
      return Fail(ErrorCode::kInvalidArgument, "partition index " + std::to_string(p.index) +
                                                   " is past the " +
                                                   std::to_string(layout.entry_count) + " entries");
    }
    std::ranges::copy(EncodeEntry(p), entries.begin() + p.index * kEntrySize);
  }
  const uint64_t array_blocks = (entries.size() + bs - 1) / bs;
  const uint64_t last = block_count - 1;
  const uint64_t backup_entries = last - array_blocks;
  const uint32_t crc = Crc32(entries);
  const HeaderFields primary{1, last, 2 + array_blocks, backup_entries - 1, 2};
  const HeaderFields backup{last, 1, 2 + array_blocks, backup_entries - 1, backup_entries};

  TRELLIS_TRY(image.Write(0, ProtectiveMbr(block_count)));
  TRELLIS_TRY(image.Write(1 * bs, EncodeHeader(layout, primary, crc)));
  TRELLIS_TRY(image.Write(2 * bs, entries));
  TRELLIS_TRY(image.Write(backup_entries * bs, entries));
  return image.Write(last * bs, EncodeHeader(layout, backup, crc));
}

Result<void> WriteEntry(ImageFile& image, uint32_t block_size, uint64_t header_lba,
                        const Partition& p) {
  TRELLIS_ASSIGN_OR_RETURN(auto header, image.Read(header_lba * block_size, block_size));
  const auto entries_lba = LoadLe<uint64_t>(header, kEntriesLbaOffset);
  const auto entry_size = LoadLe<uint32_t>(header, kEntrySizeOffset);
  TRELLIS_TRY(image.Write(entries_lba * block_size + uint64_t{p.index} * entry_size,
                          EncodeEntry(p)));
  return Reseal(image, block_size, header_lba);
}

Result<void> SetHeaderField32(ImageFile& image, uint32_t block_size, uint64_t header_lba,
                              size_t offset, uint32_t value) {
  TRELLIS_ASSIGN_OR_RETURN(auto header, image.Read(header_lba * block_size, block_size));
  StoreLe<uint32_t>(header, offset, value);
  TRELLIS_TRY(image.Write(header_lba * block_size, header));
  return Reseal(image, block_size, header_lba);
}

Result<void> SetHeaderField64(ImageFile& image, uint32_t block_size, uint64_t header_lba,
                              size_t offset, uint64_t value) {
  TRELLIS_ASSIGN_OR_RETURN(auto header, image.Read(header_lba * block_size, block_size));
  StoreLe<uint64_t>(header, offset, value);
  TRELLIS_TRY(image.Write(header_lba * block_size, header));
  return Reseal(image, block_size, header_lba);
}

Result<void> Reseal(ImageFile& image, uint32_t block_size, uint64_t header_lba) {
  TRELLIS_ASSIGN_OR_RETURN(auto header, image.Read(header_lba * block_size, block_size));
  const auto entries_lba = LoadLe<uint64_t>(header, kEntriesLbaOffset);
  const uint64_t bytes = uint64_t{LoadLe<uint32_t>(header, kEntryCountOffset)} *
                         LoadLe<uint32_t>(header, kEntrySizeOffset);
  const uint64_t blocks = image.size() / block_size;
  if (bytes <= kMaxEntryArrayBytes && entries_lba < blocks &&
      bytes <= (blocks - entries_lba) * block_size) {
    TRELLIS_ASSIGN_OR_RETURN(auto entries, image.Read(entries_lba * block_size, bytes));
    StoreLe<uint32_t>(header, kEntriesCrcOffset, Crc32(entries));
  }
  const uint32_t header_size = std::clamp<uint32_t>(LoadLe<uint32_t>(header, kHeaderSizeOffset),
                                                    kMinHeaderSize, block_size);
  StoreLe<uint32_t>(header, kHeaderCrcOffset, HeaderCrc32(header, header_size));
  return image.Write(header_lba * block_size, header);
}

}  // namespace trellis::gpt::testing
