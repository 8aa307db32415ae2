#include "runtime/host/shared_region.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

namespace trellis::host {

namespace {

struct CloseOnExit {
  int fd;
  ~CloseOnExit() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

Result<std::shared_ptr<SharedRegion>> SharedRegion::Map(int fd) {
  CloseOnExit close_fd{fd};
  int seals = ::fcntl(fd, F_GET_SEALS);
  if (seals < 0) {
    return Fail(ErrorCode::kInvalidArgument,
                "the shared file is not a memfd that allows sealing (memfd_create with "
                "MFD_ALLOW_SEALING)");
  }
  if ((seals & F_SEAL_SHRINK) == 0) {
    return Fail(ErrorCode::kInvalidArgument,
                "the memfd must be sealed against shrinking (fcntl F_ADD_SEALS F_SEAL_SHRINK)");
  }
  if ((seals & F_SEAL_WRITE) != 0) {
    return Fail(ErrorCode::kInvalidArgument,
                "the memfd is sealed against writes (F_SEAL_WRITE); reads could not fill it");
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) return FailErrno(errno, "fstat on the shared memfd");
  auto size = static_cast<uint64_t>(st.st_size);
  if (size == 0 || size > kMaxSize) {
    return Fail(ErrorCode::kInvalidArgument, "the memfd has " + std::to_string(size) +
                                                 " bytes; a region must have 1.." +
                                                 std::to_string(kMaxSize));
  }
  void* base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) return FailErrno(errno, "mmap of the shared memfd");
  close_fd.fd = -1;  // Kept for MapRange.
  return std::shared_ptr<SharedRegion>(new SharedRegion(fd, static_cast<std::byte*>(base), size));
}

SharedRegion::~SharedRegion() {
  ::munmap(base_, size_);
  ::close(fd_);
}

SharedRegion::RangeMapping::~RangeMapping() { ::munmap(base, size); }

Result<std::unique_ptr<SharedRegion::RangeMapping>> SharedRegion::MapRange(uint64_t offset,
                                                                           uint64_t length,
                                                                           bool read_only) const {
  TRELLIS_TRY(Slice(offset, length));
  if (length == 0) return Fail(ErrorCode::kInvalidArgument, "an empty range has nothing to map");
  static const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const uint64_t start = offset / page * page;
  const uint64_t span = offset + length - start;
  void* base = ::mmap(nullptr, span, read_only ? PROT_READ : PROT_READ | PROT_WRITE, MAP_SHARED,
                      fd_, static_cast<off_t>(start));
  if (base == MAP_FAILED) return FailErrno(errno, "mmap of an allowed range");
  auto* first = static_cast<std::byte*>(base) + (offset - start);
  return std::make_unique<RangeMapping>(base, span, std::span<std::byte>(first, length));
}

Result<std::span<std::byte>> SharedRegion::Slice(uint64_t offset, uint64_t length) const {
  if (offset > size_ || length > size_ - offset) {
    return Fail(ErrorCode::kOutOfRange, "bytes " + std::to_string(offset) + "+" +
                                            std::to_string(length) + " lie outside the " +
                                            std::to_string(size_) + "-byte shared region");
  }
  return std::span<std::byte>(base_ + offset, length);
}

}  // namespace trellis::host
