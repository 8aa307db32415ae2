// Fuzz target for ParseGpt over an arbitrary disk.
//
// The input is a 12-byte header, then the disk's first bytes (the prefix),
// then its last bytes (the suffix, ending at the last byte of the disk);
// everything between reads as zeros. Header:
//   [0]      block size: 512 << (byte % 4)
//   [1]      flags: bit 0 reseals the primary copy (recomputes the entry
//            array's and the header's CRCs after the fact), bit 1 the
//            backup, so that mutations reach the checks behind the CRCs;
//            bits 4-7: make that read (1-15) fail, 0 for none
//   [2..9]   block count, little-endian; below 2^32 unless bit 2 of the
//            flags is set, which passes it through unchanged
//   [10..11] prefix length in bytes, little-endian
// See make_seeds.py, which writes real tables in this format.
//
// Checked on every input: no crash, no out-of-bounds access (ASan+UBSan), no
// endless loop; every read is whole blocks inside the disk, at most 6 of
// them, none over the 4 MiB cap (rounded up to a block); a failed read fails
// the parse with its own code and nothing else does; a returned table holds
// ordered, non-overlapping partitions inside the usable LBAs, with non-zero
// type GUIDs and names that are valid UTF-8.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "drivers/gpt/gpt_table.h"
#include "drivers/gpt/internal/header.h"
#include "drivers/gpt/internal/little_endian.h"

namespace trellis::gpt {
namespace {

[[noreturn]] void Violated(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "invariant violated: %s %.*s\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

void Check(bool ok, const char* what, std::string_view detail = {}) {
  if (!ok) Violated(what, detail);
}

constexpr size_t kHeaderBytes = 12;
constexpr ErrorCode kInjectedCode = ErrorCode::kUnavailable;

// A sparse disk: `prefix` at byte 0, `suffix` ending at the last byte, zeros
// between. Where the two overlap the prefix wins.
struct Disk {
  uint64_t bytes = 0;
  std::vector<std::byte> prefix;
  std::vector<std::byte> suffix;

  uint64_t suffix_start() const { return bytes - suffix.size(); }

  void Read(uint64_t offset, std::span<std::byte> out) const {
    std::ranges::fill(out, std::byte{0});
    auto copy = [&](const std::vector<std::byte>& from, uint64_t start) {
      const uint64_t lo = std::max(offset, start);
      const uint64_t hi = std::min(offset + out.size(), start + from.size());
      if (lo < hi) std::memcpy(out.data() + (lo - offset), from.data() + (lo - start), hi - lo);
    };
    copy(suffix, suffix_start());
    copy(prefix, 0);
  }

  void Write(uint64_t offset, std::span<const std::byte> in) {
    auto copy = [&](std::vector<std::byte>& to, uint64_t start) {
      const uint64_t lo = std::max(offset, start);
      const uint64_t hi = std::min(offset + in.size(), start + to.size());
      if (lo < hi) std::memcpy(to.data() + (lo - start), in.data() + (lo - offset), hi - lo);
    };
    copy(suffix, suffix_start());
    copy(prefix, 0);
  }
};

// Recomputes the CRCs of the header at `lba`, as a tool that rewrites a
// table would, when the header's size and entry array are plausible enough.
void Reseal(Disk& disk, uint64_t lba, uint32_t block_size) {
  std::vector<std::byte> block(block_size);
  disk.Read(lba * block_size, block);
  const auto header_size = internal::LoadLe<uint32_t>(block, internal::kHeaderSizeOffset);
  if (header_size < internal::kMinHeaderSize || header_size > block_size) return;
  const auto entries_lba = internal::LoadLe<uint64_t>(block, internal::kEntriesLbaOffset);
  const uint64_t array_bytes =
      uint64_t{internal::LoadLe<uint32_t>(block, internal::kEntryCountOffset)} *
      internal::LoadLe<uint32_t>(block, internal::kEntrySizeOffset);
  const uint64_t blocks = disk.bytes / block_size;
  if (array_bytes <= internal::kMaxEntryArrayBytes && entries_lba < blocks &&
      (array_bytes + block_size - 1) / block_size <= blocks - entries_lba) {
    std::vector<std::byte> entries(array_bytes);
    disk.Read(entries_lba * block_size, entries);
    internal::StoreLe<uint32_t>(block, internal::kEntriesCrcOffset, internal::Crc32(entries));
  }
  internal::StoreLe<uint32_t>(block, internal::kHeaderCrcOffset,
                              internal::HeaderCrc32(block, header_size));
  disk.Write(lba * block_size, block);
}

bool IsValidUtf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    const size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > text.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) >> 6) != 2) return false;
    }
    i += n;
  }
  return true;
}

void CheckTable(const Table& table, uint32_t block_size, uint64_t block_count) {
  Check(table.block_size == block_size && table.block_count == block_count, "geometry copied");
  Check(table.first_usable_lba >= 1 && table.first_usable_lba <= table.last_usable_lba &&
            table.last_usable_lba < block_count,
        "usable LBAs inside the disk");
  std::vector<const Partition*> by_start;
  for (size_t i = 0; i < table.partitions.size(); ++i) {
    const Partition& p = table.partitions[i];
    if (i > 0) Check(p.index > table.partitions[i - 1].index, "partitions in entry order");
    Check(!p.type_guid.IsZero(), "no empty entries");
    Check(p.first_lba <= p.last_lba, "partition ordered");
    Check(p.first_lba >= table.first_usable_lba && p.last_lba <= table.last_usable_lba,
          "partition inside the usable LBAs");
    Check(p.block_size == block_size, "partition block size");
    Check(IsValidUtf8(p.name), "name is UTF-8", p.name);
    auto parsed = ParseGuid(p.unique_guid.ToString());
    Check(parsed.has_value() && *parsed == p.unique_guid, "GUID text round trip");
    by_start.push_back(&p);
  }
  std::ranges::sort(by_start, {}, &Partition::first_lba);
  for (size_t i = 1; i < by_start.size(); ++i) {
    Check(by_start[i]->first_lba > by_start[i - 1]->last_lba, "partitions do not overlap");
  }
}

void Run(const uint8_t* data, size_t size) {
  if (size < kHeaderBytes) return;
  const std::span<const std::byte> input(reinterpret_cast<const std::byte*>(data), size);
  const uint32_t block_size = 512u << (data[0] % 4);
  const uint8_t flags = data[1];
  uint64_t block_count = internal::LoadLe<uint64_t>(input, 2);
  if ((flags & 4) == 0) block_count &= 0xffffffff;
  const size_t prefix_len =
      std::min<size_t>(internal::LoadLe<uint16_t>(input, 10), size - kHeaderBytes);
  const unsigned fail_read = flags >> 4;

  Disk disk;
  const bool addressable = block_count <= UINT64_MAX / block_size;
  disk.bytes = addressable ? block_count * block_size : UINT64_MAX;
  const auto prefix = input.subspan(kHeaderBytes, std::min<uint64_t>(prefix_len, disk.bytes));
  const auto suffix = input.subspan(kHeaderBytes + prefix_len);
  disk.prefix.assign(prefix.begin(), prefix.end());
  disk.suffix.assign(suffix.begin(),
                     suffix.begin() + std::min<uint64_t>(suffix.size(), disk.bytes));
  if (addressable && block_count >= 3) {
    if (flags & 1) Reseal(disk, 1, block_size);
    if (flags & 2) Reseal(disk, block_count - 1, block_size);
  }

  unsigned reads = 0;
  bool failed_a_read = false;
  const ReadAt read = [&](uint64_t offset, std::span<std::byte> out) -> Result<void> {
    ++reads;
    Check(addressable, "read from a disk too large to address");
    Check(reads <= 6, "at most 6 reads");
    Check(offset % block_size == 0 && out.size() % block_size == 0, "whole blocks");
    Check(offset <= disk.bytes && out.size() <= disk.bytes - offset, "read inside the disk",
          "offset " + std::to_string(offset) + " size " + std::to_string(out.size()) + " disk " +
              std::to_string(disk.bytes));
    Check(out.size() <= internal::kMaxEntryArrayBytes + block_size, "read capped at 4 MiB");
    if (reads == fail_read) {
      failed_a_read = true;
      return Fail(kInjectedCode, "injected read error");
    }
    disk.Read(offset, out);
    return Ok();
  };

  auto table = ParseGpt(block_size, block_count, read);
  if (table) {
    Check(!failed_a_read, "a failed read failed the parse");
    CheckTable(*table, block_size, block_count);
    return;
  }
  const ErrorCode code = table.error().code();
  Check(failed_a_read == (code == kInjectedCode), "read errors pass through with their code",
        table.error().ToString());
  Check(failed_a_read || code == ErrorCode::kInvalidArgument || code == ErrorCode::kNotFound ||
            code == ErrorCode::kDataLoss,
        "documented error code", table.error().ToString());
  if (code == ErrorCode::kInvalidArgument) Check(reads == 0, "bad geometry reads nothing");
}

}  // namespace
}  // namespace trellis::gpt

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  trellis::gpt::Run(data, size);
  return 0;
}
