#include "drivers/gpt/testing/image_file.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <string>
#include <utility>

namespace trellis::gpt::testing {

Result<ImageFile> ImageFile::Create(uint64_t size, std::string dir) {
  if (dir.empty()) {
    std::error_code ec;
    dir = std::filesystem::temp_directory_path(ec).string();
    if (ec) return Fail(ErrorCode::kInternal, "no temp directory: " + ec.message());
  }
  std::string path = dir + "/trellis-gpt-test-XXXXXX";
  const int fd = ::mkostemp(path.data(), O_CLOEXEC);
  if (fd < 0) return FailErrno(errno, "mkostemp " + path);
  ImageFile image(path, fd, size);
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) return FailErrno(errno, "ftruncate " + path);
  return image;
}

Result<ImageFile> ImageFile::CopyOf(const std::string& path) {
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) return Fail(ErrorCode::kNotFound, "cannot copy " + path + ": " + ec.message());
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return FailErrno(errno, "open " + path);
  ImageFile source(/*path=*/"", fd, size);  // closes `fd`, removes nothing
  TRELLIS_ASSIGN_OR_RETURN(ImageFile copy, Create(size));
  constexpr uint64_t kChunk = 64 << 10;
  for (uint64_t offset = 0; offset < size; offset += kChunk) {
    TRELLIS_ASSIGN_OR_RETURN(auto chunk, source.Read(offset, std::min(kChunk, size - offset)));
    if (std::ranges::all_of(chunk, [](std::byte b) { return b == std::byte{0}; })) continue;
    TRELLIS_TRY(copy.Write(offset, chunk));
  }
  return copy;
}

ImageFile::ImageFile(ImageFile&& other) noexcept
    : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)), size_(other.size_) {
  other.path_.clear();
}

ImageFile::~ImageFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!path_.empty()) ::unlink(path_.c_str());
}

Result<std::vector<std::byte>> ImageFile::Read(uint64_t offset, size_t count) const {
  std::vector<std::byte> bytes(count);
  TRELLIS_TRY(Reader()(offset, bytes));
  return bytes;
}

Result<void> ImageFile::Write(uint64_t offset, std::span<const std::byte> bytes) {
  const ssize_t n = ::pwrite(fd_, bytes.data(), bytes.size(), static_cast<off_t>(offset));
  if (n < 0) return FailErrno(errno, "pwrite " + path_);
  if (static_cast<size_t>(n) != bytes.size()) {
    return Fail(ErrorCode::kDataLoss, "short write to " + path_);
  }
  return Ok();
}

Result<void> ImageFile::FlipByte(uint64_t offset) {
  TRELLIS_ASSIGN_OR_RETURN(auto byte, Read(offset, 1));
  byte[0] = ~byte[0];
  return Write(offset, byte);
}

ReadAt ImageFile::Reader() const {
  return [fd = fd_](uint64_t offset, std::span<std::byte> out) -> Result<void> {
    size_t done = 0;
    while (done < out.size()) {
      const ssize_t n = ::pread(fd, out.data() + done, out.size() - done,
                                static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return FailErrno(errno, "pread");
      if (n == 0) {
        return Fail(ErrorCode::kOutOfRange, "short read at offset " + std::to_string(offset) +
                                                ": got " + std::to_string(done) + " of " +
                                                std::to_string(out.size()) + " bytes");
      }
      done += static_cast<size_t>(n);
    }
    return Ok();
  };
}

}  // namespace trellis::gpt::testing
