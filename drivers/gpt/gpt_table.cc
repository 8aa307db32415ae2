#include "drivers/gpt/gpt_table.h"

#include <algorithm>
#include <bit>
#include <limits>
#include <optional>
#include <string>
#include <utility>

#include "drivers/gpt/internal/entry.h"
#include "drivers/gpt/internal/header.h"

namespace trellis::gpt {
namespace {

using internal::Header;

constexpr uint64_t kPrimaryLba = 1;

// The MBR fields a protective MBR is recognised by (UEFI 2.10 table 5.4).
constexpr size_t kMbrRecordsOffset = 446;
constexpr size_t kMbrRecordSize = 16;
constexpr size_t kMbrOsTypeOffset = 4;
constexpr size_t kMbrSignatureOffset = 510;
constexpr uint8_t kProtectiveOsType = 0xEE;

// One copy of the GPT as read from disk: a usable header and entry array,
// or the reason it is unusable.
struct Copy {
  std::optional<Error> problem;
  Header header;
  std::vector<std::byte> entries;
};

Result<void> CheckGeometry(uint32_t block_size, uint64_t block_count) {
  if (block_size < 512 || block_size > 65536 || !std::has_single_bit(block_size)) {
    return Fail(ErrorCode::kInvalidArgument,
                "block size " + std::to_string(block_size) +
                    " is not a power of two in 512..65536");
  }
  if (block_count < 3 || block_count > std::numeric_limits<uint64_t>::max() / block_size) {
    return Fail(ErrorCode::kInvalidArgument,
                "block count " + std::to_string(block_count) +
                    " cannot hold a GPT or be addressed in bytes");
  }
  return Ok();
}

// Reads `blocks` whole blocks from `lba`; the error names `what`.
Result<std::vector<std::byte>> ReadBlocks(const ReadAt& read, uint64_t lba, uint64_t blocks,
                                          uint32_t block_size, std::string_view what) {
  std::vector<std::byte> buffer(blocks * block_size);
  TRELLIS_TRY(read(lba * block_size, buffer),
              "reading " + std::string(what) + " at LBA " + std::to_string(lba));
  return buffer;
}

// Accepts LBA 0 without the MBR signature; refuses a legacy MBR (signature,
// but no 0xEE partition), whose GPT, if any, was left behind.
Result<void> CheckProtectiveMbr(std::span<const std::byte> lba0) {
  if (lba0[kMbrSignatureOffset] != std::byte{0x55} ||
      lba0[kMbrSignatureOffset + 1] != std::byte{0xAA}) {
    return Ok();
  }
  for (size_t i = 0; i < 4; ++i) {
    const size_t os_type = kMbrRecordsOffset + i * kMbrRecordSize + kMbrOsTypeOffset;
    if (lba0[os_type] == std::byte{kProtectiveOsType}) return Ok();
  }
  return Fail(ErrorCode::kNotFound,
              "no GPT: LBA 0 holds a legacy MBR without a protective (0xEE) partition");
}

// Reads the header at `lba` and its entry array. Fails only if `read` does;
// a damaged copy comes back with `problem` set.
Result<Copy> LoadCopy(const ReadAt& read, std::string_view which, uint64_t lba,
                      uint32_t block_size, uint64_t block_count) {
  const std::string header_name = std::string(which) + " GPT header";
  TRELLIS_ASSIGN_OR_RETURN(auto block, ReadBlocks(read, lba, 1, block_size, header_name));
  auto header = internal::DecodeHeader(block, lba, block_count);
  if (!header) {
    return Copy{.problem = std::move(header).error().WithContext(header_name + " at LBA " +
                                                                 std::to_string(lba))};
  }
  const std::string array_name = std::string(which) + " GPT entry array";
  std::vector<std::byte> entries;
  // An empty array is not read: the header check leaves its LBA unchecked
  // (it may lie past the disk, or overflow when multiplied by block_size).
  if (header->entry_array_bytes() > 0) {
    const uint64_t blocks = (header->entry_array_bytes() + block_size - 1) / block_size;
    TRELLIS_ASSIGN_OR_RETURN(entries,
                             ReadBlocks(read, header->entries_lba, blocks, block_size, array_name));
    entries.resize(header->entry_array_bytes());
  }
  const uint32_t computed = internal::Crc32(entries);
  if (computed != header->entries_crc) {
    return Copy{.problem = Error(ErrorCode::kDataLoss,
                                 array_name + " at LBA " + std::to_string(header->entries_lba) +
                                     ": " + internal::CrcMismatch(header->entries_crc, computed))};
  }
  return Copy{.header = *header, .entries = std::move(entries)};
}

Error BothUnusable(const Error& primary, const Error& backup, uint64_t backup_lba) {
  if (primary.code() == ErrorCode::kNotFound && backup.code() == ErrorCode::kNotFound) {
    return Error(ErrorCode::kNotFound, "no GPT: no 'EFI PART' signature at LBA 1 or LBA " +
                                           std::to_string(backup_lba));
  }
  return Error(ErrorCode::kDataLoss, primary.message() + "; " + backup.message());
}

// "partition 2 'data' (LBA 100..300)"; control characters in the name print
// as '?', so a hostile name cannot forge log lines.
std::string Describe(const Partition& p) {
  std::string name = p.name;
  std::ranges::replace_if(
      name, [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }, '?');
  return "partition " + std::to_string(uint64_t{p.index} + 1) + " '" + name + "' (LBA " +
         std::to_string(p.first_lba) + ".." + std::to_string(p.last_lba) + ")";
}

// Checks that each partition is an ordered range of usable LBAs and that no
// two overlap. The error names the offending partition.
Result<void> CheckPartitions(const std::vector<Partition>& partitions, const Header& header) {
  for (const Partition& p : partitions) {
    if (p.first_lba > p.last_lba) {
      return Fail(ErrorCode::kDataLoss, Describe(p) + " ends before it starts");
    }
    if (p.first_lba < header.first_usable_lba || p.last_lba > header.last_usable_lba) {
      return Fail(ErrorCode::kDataLoss,
                  Describe(p) + " lies outside the usable LBAs " +
                      std::to_string(header.first_usable_lba) + ".." +
                      std::to_string(header.last_usable_lba));
    }
  }
  std::vector<const Partition*> by_start;
  for (const Partition& p : partitions) by_start.push_back(&p);
  std::ranges::sort(by_start, [](const Partition* a, const Partition* b) {
    return std::pair(a->first_lba, a->index) < std::pair(b->first_lba, b->index);
  });
  // `reach` is the partition seen so far that ends last.
  const Partition* reach = nullptr;
  for (const Partition* p : by_start) {
    if (reach != nullptr && p->first_lba <= reach->last_lba) {
      const auto [later, earlier] = p->index > reach->index ? std::pair(p, reach)
                                                            : std::pair(reach, p);
      return Fail(ErrorCode::kDataLoss, Describe(*later) + " overlaps " + Describe(*earlier));
    }
    if (reach == nullptr || p->last_lba > reach->last_lba) reach = p;
  }
  return Ok();
}

Result<Table> BuildTable(const Copy& copy, std::string_view which, uint32_t block_size,
                         uint64_t block_count) {
  const Header& h = copy.header;
  Table table{
      .disk_guid = h.disk_guid,
      .block_size = block_size,
      .block_count = block_count,
      .first_usable_lba = h.first_usable_lba,
      .last_usable_lba = h.last_usable_lba,
  };
  const std::span<const std::byte> entries = copy.entries;
  for (uint32_t i = 0; i < h.entry_count; ++i) {
    Partition p = internal::DecodeEntry(entries.subspan(uint64_t{i} * h.entry_size, h.entry_size),
                                        i, block_size);
    if (!p.type_guid.IsZero()) table.partitions.push_back(std::move(p));
  }
  TRELLIS_TRY(CheckPartitions(table.partitions, h), std::string(which) + " GPT");
  return table;
}

}  // namespace

Result<Table> ParseGpt(uint32_t block_size, uint64_t block_count, const ReadAt& read) {
  TRELLIS_TRY(CheckGeometry(block_size, block_count));
  TRELLIS_ASSIGN_OR_RETURN(auto lba0, ReadBlocks(read, 0, 1, block_size, "protective MBR"));
  TRELLIS_TRY(CheckProtectiveMbr(lba0));

  TRELLIS_ASSIGN_OR_RETURN(Copy primary,
                           LoadCopy(read, "primary", kPrimaryLba, block_size, block_count));
  if (!primary.problem) return BuildTable(primary, "primary", block_size, block_count);

  const uint64_t backup_lba = block_count - 1;
  TRELLIS_ASSIGN_OR_RETURN(Copy backup,
                           LoadCopy(read, "backup", backup_lba, block_size, block_count));
  if (backup.problem) return Fail(BothUnusable(*primary.problem, *backup.problem, backup_lba));
  TRELLIS_ASSIGN_OR_RETURN(Table table, BuildTable(backup, "backup", block_size, block_count));
  table.used_backup = true;
  return table;
}

}  // namespace trellis::gpt
