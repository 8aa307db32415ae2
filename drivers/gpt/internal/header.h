// The GPT header (UEFI 2.10 table 5.5): its on-disk layout, decoding and the
// checks that need nothing but the header and the disk geometry.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "drivers/gpt/guid.h"
#include "runtime/error.h"

namespace trellis::gpt::internal {

// Byte offsets of the header fields.
inline constexpr size_t kSignatureOffset = 0;
inline constexpr size_t kRevisionOffset = 8;
inline constexpr size_t kHeaderSizeOffset = 12;
inline constexpr size_t kHeaderCrcOffset = 16;
inline constexpr size_t kMyLbaOffset = 24;
inline constexpr size_t kAlternateLbaOffset = 32;
inline constexpr size_t kFirstUsableLbaOffset = 40;
inline constexpr size_t kLastUsableLbaOffset = 48;
inline constexpr size_t kDiskGuidOffset = 56;
inline constexpr size_t kEntriesLbaOffset = 72;
inline constexpr size_t kEntryCountOffset = 80;
inline constexpr size_t kEntrySizeOffset = 84;
inline constexpr size_t kEntriesCrcOffset = 88;
inline constexpr size_t kMinHeaderSize = 92;

inline constexpr uint32_t kRevision1_0 = 0x00010000;
// Caps that keep a lying header from making us read or allocate much: 16384
// entries of 128 bytes is 2 MiB; 4 MiB leaves room for larger entries.
inline constexpr uint32_t kMaxEntryCount = 16384;
inline constexpr uint64_t kMaxEntryArrayBytes = 4 << 20;

struct Header {
  uint64_t my_lba = 0;
  uint64_t alternate_lba = 0;
  uint64_t first_usable_lba = 0;
  uint64_t last_usable_lba = 0;
  Guid disk_guid;
  uint64_t entries_lba = 0;
  uint32_t entry_count = 0;
  uint32_t entry_size = 0;
  uint32_t entries_crc = 0;

  uint64_t entry_array_bytes() const { return uint64_t{entry_count} * entry_size; }
};

// Decodes the header in `block` (one whole block, read from LBA `lba` of a
// disk of `block_count` blocks) and checks everything but the entry array's
// CRC. The error message is the bare reason ("CRC mismatch (stored
// 0x12345678, computed 0x9abcdef0)"); the caller says which header it was.
// Errors: kNotFound if the "EFI PART" signature is missing, kDataLoss for
// every other problem.
Result<Header> DecodeHeader(std::span<const std::byte> block, uint64_t lba,
                            uint64_t block_count);

// zlib's CRC-32 of `bytes`, as GPT uses it.
uint32_t Crc32(std::span<const std::byte> bytes);

// "CRC mismatch (stored 0x12345678, computed 0x9abcdef0)".
std::string CrcMismatch(uint32_t stored, uint32_t computed);

// The CRC-32 of the first `header_size` bytes of `block` with the header CRC
// field taken as zero. Precondition: kMinHeaderSize <= header_size <= block.size().
uint32_t HeaderCrc32(std::span<const std::byte> block, uint32_t header_size);

}  // namespace trellis::gpt::internal
