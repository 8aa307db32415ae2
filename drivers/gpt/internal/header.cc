#include "drivers/gpt/internal/header.h"

#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <vector>

#include "drivers/gpt/internal/little_endian.h"

namespace trellis::gpt::internal {
namespace {

constexpr std::string_view kSignature = "EFI PART";

std::string Hex32(uint32_t value) {
  char text[11];
  std::snprintf(text, sizeof(text), "0x%08x", value);
  return text;
}

std::string Lbas(uint64_t first, uint64_t last) {
  return std::to_string(first) + ".." + std::to_string(last);
}

bool Contains(uint64_t first, uint64_t last, uint64_t lba) { return first <= lba && lba <= last; }

std::unexpected<Error> Corrupt(std::string reason) {
  return Fail(ErrorCode::kDataLoss, std::move(reason));
}

// Checks the entry array's size and place: inside the disk, clear of LBA 0,
// of both headers and of the usable LBAs (UEFI 2.10 section 5.3.2).
Result<void> CheckEntryArray(const Header& h, uint64_t block_size, uint64_t block_count) {
  if (h.entry_size < 128 || !std::has_single_bit(h.entry_size)) {
    return Corrupt("partition entry size " + std::to_string(h.entry_size) +
                   " is not 128 times a power of two");
  }
  if (h.entry_count > kMaxEntryCount) {
    return Corrupt(std::to_string(h.entry_count) + " partition entries exceed the limit of " +
                   std::to_string(kMaxEntryCount));
  }
  const uint64_t bytes = h.entry_array_bytes();
  if (bytes > kMaxEntryArrayBytes) {
    return Corrupt("partition entry array of " + std::to_string(h.entry_count) + " x " +
                   std::to_string(h.entry_size) + " bytes exceeds the limit of " +
                   std::to_string(kMaxEntryArrayBytes) + " bytes");
  }
  if (bytes == 0) return Ok();
  const uint64_t blocks = (bytes + block_size - 1) / block_size;
  if (h.entries_lba == 0 || h.entries_lba >= block_count || blocks > block_count - h.entries_lba) {
    return Corrupt("partition entry array at LBA " + std::to_string(h.entries_lba) + " (" +
                   std::to_string(blocks) + " blocks) does not fit in LBAs 1.." +
                   std::to_string(block_count - 1));
  }
  const uint64_t last = h.entries_lba + blocks - 1;
  if (Contains(h.entries_lba, last, h.my_lba) || Contains(h.entries_lba, last, h.alternate_lba)) {
    return Corrupt("partition entry array (LBA " + Lbas(h.entries_lba, last) +
                   ") overlaps a GPT header (LBA " + std::to_string(h.my_lba) + " or " +
                   std::to_string(h.alternate_lba) + ")");
  }
  if (h.entries_lba <= h.last_usable_lba && h.first_usable_lba <= last) {
    return Corrupt("partition entry array (LBA " + Lbas(h.entries_lba, last) +
                   ") overlaps the usable LBAs " + Lbas(h.first_usable_lba, h.last_usable_lba));
  }
  return Ok();
}

}  // namespace

uint32_t Crc32(std::span<const std::byte> bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // zlib takes a uInt length; our buffers are at most a few MiB, but loop anyway.
  while (!bytes.empty()) {
    const size_t chunk = std::min<size_t>(bytes.size(), 1u << 30);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(chunk));
    bytes = bytes.subspan(chunk);
  }
  return static_cast<uint32_t>(crc);
}

std::string CrcMismatch(uint32_t stored, uint32_t computed) {
  return "CRC mismatch (stored " + Hex32(stored) + ", computed " + Hex32(computed) + ")";
}

uint32_t HeaderCrc32(std::span<const std::byte> block, uint32_t header_size) {
  std::vector<std::byte> copy(block.begin(), block.begin() + header_size);
  StoreLe<uint32_t>(copy, kHeaderCrcOffset, 0);
  return Crc32(copy);
}

Result<Header> DecodeHeader(std::span<const std::byte> block, uint64_t lba,
                            uint64_t block_count) {
  if (block.size() < kMinHeaderSize) {
    return Corrupt("block of " + std::to_string(block.size()) + " bytes cannot hold a header");
  }
  if (!std::ranges::equal(block.first(kSignature.size()), kSignature,
                          [](std::byte b, char c) { return b == std::byte(c); })) {
    return Fail(ErrorCode::kNotFound, "no 'EFI PART' signature");
  }
  const auto revision = LoadLe<uint32_t>(block, kRevisionOffset);
  if (revision >> 16 != kRevision1_0 >> 16) {
    return Corrupt("unsupported revision " + Hex32(revision) + " (want 1.x)");
  }
  const auto header_size = LoadLe<uint32_t>(block, kHeaderSizeOffset);
  if (header_size < kMinHeaderSize || header_size > block.size()) {
    return Corrupt("header size " + std::to_string(header_size) + " outside " +
                   std::to_string(kMinHeaderSize) + ".." + std::to_string(block.size()));
  }
  const auto stored_crc = LoadLe<uint32_t>(block, kHeaderCrcOffset);
  const uint32_t computed_crc = HeaderCrc32(block, header_size);
  if (stored_crc != computed_crc) return Corrupt(CrcMismatch(stored_crc, computed_crc));

  Header h;
  h.my_lba = LoadLe<uint64_t>(block, kMyLbaOffset);
  h.alternate_lba = LoadLe<uint64_t>(block, kAlternateLbaOffset);
  h.first_usable_lba = LoadLe<uint64_t>(block, kFirstUsableLbaOffset);
  h.last_usable_lba = LoadLe<uint64_t>(block, kLastUsableLbaOffset);
  std::ranges::copy(block.subspan(kDiskGuidOffset, 16), h.disk_guid.bytes.begin());
  h.entries_lba = LoadLe<uint64_t>(block, kEntriesLbaOffset);
  h.entry_count = LoadLe<uint32_t>(block, kEntryCountOffset);
  h.entry_size = LoadLe<uint32_t>(block, kEntrySizeOffset);
  h.entries_crc = LoadLe<uint32_t>(block, kEntriesCrcOffset);

  if (h.my_lba != lba) {
    return Corrupt("MyLBA is " + std::to_string(h.my_lba) + ", not " + std::to_string(lba));
  }
  if (h.alternate_lba == 0 || h.alternate_lba >= block_count || h.alternate_lba == lba) {
    return Corrupt("AlternateLBA " + std::to_string(h.alternate_lba) +
                   " is not another LBA in 1.." + std::to_string(block_count - 1));
  }
  if (h.first_usable_lba == 0 || h.first_usable_lba > h.last_usable_lba ||
      h.last_usable_lba >= block_count) {
    return Corrupt("usable LBAs " + Lbas(h.first_usable_lba, h.last_usable_lba) +
                   " are not an ordered range in 1.." + std::to_string(block_count - 1));
  }
  if (Contains(h.first_usable_lba, h.last_usable_lba, h.my_lba) ||
      Contains(h.first_usable_lba, h.last_usable_lba, h.alternate_lba)) {
    return Corrupt("usable LBAs " + Lbas(h.first_usable_lba, h.last_usable_lba) +
                   " include a GPT header (LBA " + std::to_string(h.my_lba) + " or " +
                   std::to_string(h.alternate_lba) + ")");
  }
  TRELLIS_TRY(CheckEntryArray(h, block.size(), block_count));
  return h;
}

}  // namespace trellis::gpt::internal
