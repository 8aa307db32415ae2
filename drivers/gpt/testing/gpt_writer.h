// Writes GPT structures into an ImageFile, and patches them with the CRCs
// fixed up: for tables sgdisk cannot make on a file (4096-byte blocks) and
// for tables that lie yet pass every CRC check.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "drivers/gpt/gpt_table.h"
#include "drivers/gpt/testing/image_file.h"
#include "runtime/error.h"

namespace trellis::gpt::testing {

struct GptLayout {
  uint32_t block_size = 512;
  uint32_t entry_count = 128;
  Guid disk_guid;
  std::vector<Partition> partitions;  // each written at its `index`
};

// Writes a protective MBR, the primary header at LBA 1 with its entries from
// LBA 2, and the backup entries just before the backup header at the last
// LBA. The usable LBAs are those in between. Partitions are not checked.
Result<void> WriteGpt(ImageFile& image, const GptLayout& layout);

// Writes `p` into entry `p.index` of the copy whose header is at
// `header_lba`, then reseals that copy.
Result<void> WriteEntry(ImageFile& image, uint32_t block_size, uint64_t header_lba,
                        const Partition& p);

// Overwrites the 4- or 8-byte header field at `offset` (an offset from
// internal/header.h) and recomputes the header CRC, not the entry array's.
Result<void> SetHeaderField32(ImageFile& image, uint32_t block_size, uint64_t header_lba,
                              size_t offset, uint32_t value);
Result<void> SetHeaderField64(ImageFile& image, uint32_t block_size, uint64_t header_lba,
                              size_t offset, uint64_t value);

// Recomputes the entry array's CRC, when the header places an array of sane
// size inside the image, and then the header CRC over the header size
// clamped to 92..block_size. Tolerates nonsense headers, for fuzzing.
Result<void> Reseal(ImageFile& image, uint32_t block_size, uint64_t header_lba);

}  // namespace trellis::gpt::testing
