// ParseGpt: reads a GUID Partition Table (UEFI 2.10, section 5.3) through a
// caller-supplied read function. A pure parser: no file descriptors, no
// threads, no state; the caller owns all I/O.
//
//   gpt/guid.h              Guid, the 16 on-disk bytes, and its text form
//   gpt/internal/header.h   the on-disk header: decoding and validation
//   gpt/internal/entry.h    one on-disk partition entry, with its UTF-16 name
//   gpt/testing/            image files, a GPT writer and an sgdisk runner,
//                           for tests
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "drivers/gpt/guid.h"
#include "runtime/error.h"

namespace trellis::gpt {

// Reads exactly `out.size()` bytes at byte `offset` of the disk into `out`.
// A short read must be reported as an error, never as success.
using ReadAt = std::function<Result<void>(uint64_t offset, std::span<std::byte> out)>;

struct Partition {
  uint32_t index = 0;       // 0-based entry index; sgdisk and Linux show index + 1
  std::string name;         // the UTF-16LE name, decoded to UTF-8
  Guid type_guid;
  Guid unique_guid;
  uint64_t first_lba = 0;
  uint64_t last_lba = 0;    // inclusive
  uint64_t attributes = 0;
  uint32_t block_size = 0;  // copied from the table, for the byte helpers

  uint64_t offset_bytes() const { return first_lba * block_size; }
  uint64_t size_bytes() const { return (last_lba - first_lba + 1) * block_size; }

  friend bool operator==(const Partition&, const Partition&) = default;
};

struct Table {
  Guid disk_guid;
  uint32_t block_size = 0;
  uint64_t block_count = 0;
  uint64_t first_usable_lba = 0;
  uint64_t last_usable_lba = 0;
  bool used_backup = false;           // the primary copy was unusable
  std::vector<Partition> partitions;  // non-empty entries, in entry order
};

// Parses the GPT of a disk of `block_count` blocks of `block_size` bytes.
// Synchronous: `read` is called on the calling thread, which may be any.
//
// Reads LBA 0 (protective MBR), LBA 1 (primary header) and its entry array,
// and, only if that copy is unusable, the last LBA (backup header) and its
// entry array. Each read is one call of `read`; the largest asks for the
// entry array, at most 4 MiB, however large the header claims it is.
//
// Policy:
//  - LBA 0 without the 0x55AA signature is accepted: the two CRC-checked
//    headers decide. LBA 0 with a signature but no 0xEE (protective)
//    partition is a legacy MBR disk whose GPT, if any, is stale: kNotFound.
//  - A copy is unusable if its header or entry array fails any check of
//    section 5.3.2 (signature, revision 1.x, header size, CRCs, MyLBA, LBA
//    ranges, entry size and count). Then the backup at the last LBA is used
//    and Table::used_backup is set. While the primary is usable the backup
//    is not read at all, so damage to it goes unnoticed; nor is the primary's
//    AlternateLBA required to be the last LBA (a disk grown since).
//  - Partition entries are checked in the copy that was chosen: first LBA
//    after last LBA, outside the usable LBAs, or overlapping another entry
//    fails the whole parse, with no fallback to the other copy: a table with
//    valid CRCs was written that way on purpose, so neither copy is trusted.
//  - Errors name partitions by number (index + 1), as sgdisk does.
//
// Errors:
//  kInvalidArgument  block_size is not a power of two in [512, 65536], or
//                    block_count is below 3 or too large to address in bytes.
//  kNotFound         no GPT: neither LBA 1 nor the last LBA holds the
//                    "EFI PART" signature, or LBA 0 is a legacy MBR.
//  kDataLoss         a GPT is there but unusable: both copies are damaged
//                    (the message gives both reasons), or the chosen copy's
//                    entries lie (the message names the entry).
//  any code of `read` if a read fails, unchanged, with the message prefixed
//                    by what was being read. Read errors never trigger the
//                    fallback: the caller decides whether to retry.
Result<Table> ParseGpt(uint32_t block_size, uint64_t block_count, const ReadAt& read);

}  // namespace trellis::gpt
