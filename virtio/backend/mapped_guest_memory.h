// MappedGuestMemory: the frontend's memory as a vhost-user backend sees it,
// the regions of one SET_MEM_TABLE, each mmap'd MAP_SHARED from the fd that
// came with it.
//
// Two address spaces point into it. Descriptors carry guest-physical
// addresses (Translate, the GuestMemory interface DeviceQueue uses);
// SET_VRING_ADDR carries ring addresses in the frontend's userspace
// (GuestAddressOfUser turns those into guest-physical ones, so a queue can
// be made over the same Translate). Our frontend registers identity regions
// (guest_phys_addr == userspace_addr); QEMU does not.
//
// Map checks each fd's size against mmap_offset + memory_size first, so a
// region never extends past the end of its file (touching that would raise
// SIGBUS). A frontend that shrinks the file afterwards can still do that;
// ours seals its memfds against shrinking.
//
// Owns the mappings (unmapped by the destructor: on SET_MEM_TABLE replacing
// it, RESET_OWNER and disconnect). Immutable once made, so queues may read
// it from the backend's loop thread; the owner keeps it alive longer than
// every DeviceQueue over it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "runtime/error.h"
#include "virtio/backend/guest_memory.h"
#include "virtio/backend/vhost_user_requests.h"

namespace trellis::virtio::backend {

class MappedGuestMemory final : public GuestMemory {
 public:
  // Maps `regions` (already validated by DecodeMemTableRequest). The fds are
  // closed once mapped.
  // Errors: kInvalidArgument when a file is smaller than its region needs;
  // from fstat and mmap (kResourceExhausted on ENOMEM).
  static Result<std::unique_ptr<MappedGuestMemory>> Map(std::vector<MemTableEntry> regions);

  ~MappedGuestMemory() override;
  MappedGuestMemory(const MappedGuestMemory&) = delete;
  MappedGuestMemory& operator=(const MappedGuestMemory&) = delete;

  // Guest-physical [address, address + length) to a host pointer, or nullptr
  // unless it lies inside one region.
  std::byte* Translate(uint64_t device_address, uint64_t length) const override;

  // The guest-physical address of frontend-userspace [address, address +
  // length), or nullopt unless it lies inside one region.
  std::optional<uint64_t> GuestAddressOfUser(uint64_t address, uint64_t length) const;

  size_t num_regions() const { return regions_.size(); }

 private:
  struct Region {
    uint64_t guest_phys_addr = 0;
    uint64_t userspace_addr = 0;
    uint64_t size = 0;
    std::byte* host = nullptr;  // guest_phys_addr's byte.
    void* mapping = nullptr;    // What munmap gets.
    size_t mapping_size = 0;
  };

  MappedGuestMemory() = default;

  std::vector<Region> regions_;
};

}  // namespace trellis::virtio::backend
