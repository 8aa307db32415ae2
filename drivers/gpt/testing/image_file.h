// ImageFile: a sparse disk image in a temporary file, for tests. sgdisk
// writes it by path(); the parser reads it through Reader(), over pread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "drivers/gpt/gpt_table.h"
#include "runtime/error.h"

namespace trellis::gpt::testing {

class ImageFile {
 public:
  // Creates "<dir>/trellis-gpt-test-XXXXXX", `size` bytes of zeros (sparse);
  // `dir` defaults to the system temp directory.
  static Result<ImageFile> Create(uint64_t size, std::string dir = "");
  // A temp-directory copy of the file at `path`; its all-zero 64 KiB chunks
  // stay holes.
  static Result<ImageFile> CopyOf(const std::string& path);

  ImageFile(ImageFile&& other) noexcept;
  ImageFile& operator=(ImageFile&&) = delete;
  ImageFile(const ImageFile&) = delete;
  ~ImageFile();  // closes and removes the file

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }

  Result<std::vector<std::byte>> Read(uint64_t offset, size_t count) const;
  Result<void> Write(uint64_t offset, std::span<const std::byte> bytes);
  // Flips every bit of the byte at `offset`.
  Result<void> FlipByte(uint64_t offset);

  // A ReadAt over pread. A read that ends past the end of the file fails
  // with kOutOfRange, "short read at offset X: got N of M bytes". Valid while
  // this ImageFile lives.
  ReadAt Reader() const;

 private:
  ImageFile(std::string path, int fd, uint64_t size)
      : path_(std::move(path)), fd_(fd), size_(size) {}

  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

}  // namespace trellis::gpt::testing
