// GuestMemory: the memory a vhost-user frontend shares with its backend —
// one memfd, mapped MAP_SHARED here and by the backend after SET_MEM_TABLE.
//
// Identity addressing: the region is described with guest_phys_addr ==
// userspace_addr == the address of our mapping, so the "device address" of
// a buffer is just its pointer (DeviceAddress) and the hot path does no
// translation. The backend translates with its own mapping.
//
// Rings and buffers come from a bump allocator (Allocate): no free, memory
// lives as long as the GuestMemory. Fresh memory is zero (a new memfd).
//
// The memfd is close-on-exec and sealed against shrinking and growing, so a
// backend cannot truncate it under us (SIGBUS) or we under it.
//
// Owns the memfd and the mapping; move-only. Allocate is not thread-safe
// (call it during setup); the memory itself is shared with the device, and
// access to rings follows the virtio ordering rules (the queue's business).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "runtime/error.h"
#include "virtio/vhost_user/message.h"

namespace trellis::vhost_user {

class GuestMemory {
 public:
  // A zeroed region of `size` bytes (rounded up to the page size).
  // Errors: kInvalidArgument for size 0; from memfd_create, ftruncate,
  // fcntl(F_ADD_SEALS) and mmap otherwise (kResourceExhausted on ENOMEM).
  static Result<GuestMemory> Create(size_t size, const std::string& name = "trellis-guest");

  GuestMemory(GuestMemory&& other) noexcept;
  GuestMemory& operator=(GuestMemory&& other) noexcept;
  ~GuestMemory();

  std::byte* base() const { return base_; }
  size_t size() const { return size_; }
  int fd() const { return fd_; }
  std::span<std::byte> bytes() const { return {base_, size_}; }

  // True if [ptr, ptr + len) lies inside the region (len 0: ptr inside).
  bool Contains(const void* ptr, size_t len) const;

  // The address the device uses for `ptr`: the pointer itself.
  static uint64_t DeviceAddress(const void* ptr) { return reinterpret_cast<uintptr_t>(ptr); }

  // The next `size` bytes aligned to `align` (a power of two).
  // Errors: kInvalidArgument for size 0 or a bad alignment;
  // kResourceExhausted when the region has no room left.
  Result<std::span<std::byte>> Allocate(size_t size, size_t align);
  // Bytes handed out so far (including alignment padding).
  size_t used() const { return next_; }

  // The SET_MEM_TABLE entry for this region; the fd stays owned here.
  MemoryRegion region() const;

 private:
  GuestMemory(int fd, std::byte* base, size_t size) : fd_(fd), base_(base), size_(size) {}
  void Reset();

  int fd_ = -1;
  std::byte* base_ = nullptr;
  size_t size_ = 0;
  size_t next_ = 0;
};

}  // namespace trellis::vhost_user
