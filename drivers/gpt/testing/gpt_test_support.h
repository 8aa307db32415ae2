// Shared by the GPT tests: where sgdisk images are cached, a read function
// that records what was asked of it, and printing of the parser's types.
#pragma once

#include <algorithm>
#include <cstdint>
#include <ostream>

#include "drivers/gpt/gpt_table.h"

namespace trellis::gpt {

inline void PrintTo(const Guid& guid, std::ostream* os) { *os << guid.ToString(); }
inline void PrintTo(const Partition& p, std::ostream* os) {
  *os << "{index " << p.index << " '" << p.name << "' LBA " << p.first_lba << ".." << p.last_lba
      << " type " << p.type_guid.ToString() << " unique " << p.unique_guid.ToString()
      << " attributes " << p.attributes << " block size " << p.block_size << "}";
}

namespace testing {

// The sgdisk-made images of the table tests: 8 MiB, 16384 blocks of 512
// bytes.
inline constexpr uint64_t kImageSize = 8 << 20;
inline constexpr uint64_t kImageBlocks = kImageSize / 512;
inline constexpr uint64_t kImageLastLba = kImageBlocks - 1;

// Where MakeSgdiskImage keeps the images it made (CMake sets it to a folder
// of the build tree); empty means no caching.
#ifdef TRELLIS_GPT_IMAGE_CACHE_DIR
inline constexpr const char* kImageCacheDir = TRELLIS_GPT_IMAGE_CACHE_DIR;
#else
inline constexpr const char* kImageCacheDir = "";
#endif

// Wraps a ReadAt and remembers the largest read, so tests can check that a
// lying header never made the parser read (and so allocate) much.
class RecordingReader {
 public:
  explicit RecordingReader(ReadAt inner) : inner_(std::move(inner)) {}

  ReadAt reader() {
    return [this](uint64_t offset, std::span<std::byte> out) {
      largest_read_ = std::max<uint64_t>(largest_read_, out.size());
      ++reads_;
      return inner_(offset, out);
    };
  }
  uint64_t largest_read() const { return largest_read_; }
  int reads() const { return reads_; }

 private:
  ReadAt inner_;
  uint64_t largest_read_ = 0;
  int reads_ = 0;
};

}  // namespace testing
}  // namespace trellis::gpt
