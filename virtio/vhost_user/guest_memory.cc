#include "virtio/vhost_user/guest_memory.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bit>
#include <utility>

#include "virtio/vhost_user/internal/format.h"

namespace trellis::vhost_user {

using internal::Format;

Result<GuestMemory> GuestMemory::Create(size_t size, const std::string& name) {
  if (size == 0) return Fail(ErrorCode::kInvalidArgument, "guest memory of 0 bytes");
  size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  size = (size + page - 1) / page * page;
  int fd = ::memfd_create(name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return FailErrno(errno, "memfd_create for guest memory " + name);
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0 ||
      ::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) != 0) {
    int err = errno;
    ::close(fd);
    return FailErrno(err, Format("sizing and sealing guest memory {} ({} bytes)", name, size));
  }
  void* base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) {
    int err = errno;
    ::close(fd);
    return FailErrno(err, Format("mapping guest memory {} ({} bytes)", name, size));
  }
  return GuestMemory(fd, static_cast<std::byte*>(base), size);
}

GuestMemory::GuestMemory(GuestMemory&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      base_(std::exchange(other.base_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      next_(std::exchange(other.next_, 0)) {}

GuestMemory& GuestMemory::operator=(GuestMemory&& other) noexcept {
  if (this != &other) {
    Reset();
    fd_ = std::exchange(other.fd_, -1);
    base_ = std::exchange(other.base_, nullptr);
    size_ = std::exchange(other.size_, 0);
    next_ = std::exchange(other.next_, 0);
  }
  return *this;
}

GuestMemory::~GuestMemory() { Reset(); }

void GuestMemory::Reset() {
  if (base_ != nullptr) ::munmap(base_, size_);
  if (fd_ >= 0) ::close(fd_);
  base_ = nullptr;
  fd_ = -1;
  size_ = next_ = 0;
}

bool GuestMemory::Contains(const void* ptr, size_t len) const {
  auto p = reinterpret_cast<uintptr_t>(ptr);
  auto b = reinterpret_cast<uintptr_t>(base_);
  if (base_ == nullptr || p < b) return false;
  uintptr_t offset = p - b;
  if (len == 0) return offset < size_;
  return offset <= size_ && len <= size_ - offset;
}

Result<std::span<std::byte>> GuestMemory::Allocate(size_t size, size_t align) {
  if (size == 0 || align == 0 || !std::has_single_bit(align)) {
    return Fail(ErrorCode::kInvalidArgument,
                Format("guest memory allocation of {} bytes aligned to {}: need a non-zero "
                       "size and a power-of-two alignment",
                       size, align));
  }
  // Aligns the address (the device sees addresses, not offsets).
  auto b = reinterpret_cast<uintptr_t>(base_);
  uintptr_t start = (b + next_ + align - 1) & ~(uintptr_t{align} - 1);
  uintptr_t offset = start - b;
  if (offset > size_ || size > size_ - offset) {
    return Fail(ErrorCode::kResourceExhausted,
                Format("guest memory full: {} bytes aligned to {} do not fit ({} of {} "
                       "bytes used)",
                       size, align, next_, size_));
  }
  next_ = offset + size;
  return std::span<std::byte>(base_ + offset, size);
}

MemoryRegion GuestMemory::region() const {
  return MemoryRegion{
      .guest_phys_addr = DeviceAddress(base_),
      .memory_size = size_,
      .userspace_addr = DeviceAddress(base_),
      .mmap_offset = 0,
      .fd = fd_,
  };
}

}  // namespace trellis::vhost_user
