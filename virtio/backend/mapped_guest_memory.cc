#include "virtio/backend/mapped_guest_memory.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <cerrno>

namespace trellis::virtio::backend {

namespace {

// Whether [address, address + length) lies inside [base, base + size).
bool Inside(uint64_t base, uint64_t size, uint64_t address, uint64_t length) {
  if (address < base) return false;
  const uint64_t offset = address - base;
  return offset <= size && length <= size - offset;
}

}  // namespace

Result<std::unique_ptr<MappedGuestMemory>> MappedGuestMemory::Map(
    std::vector<MemTableEntry> regions) {
  std::unique_ptr<MappedGuestMemory> memory(new MappedGuestMemory());
  for (size_t i = 0; i < regions.size(); ++i) {
    const MemTableEntry& e = regions[i];
    const std::string what = "SET_MEM_TABLE region " + std::to_string(i);
    struct stat st {};
    if (::fstat(e.fd.get(), &st) != 0) return FailErrno(errno, "fstat of " + what);
    // mmap_offset + memory_size does not overflow: DecodeMemTableRequest.
    const uint64_t end = e.mmap_offset + e.memory_size;
    if (st.st_size < 0 || static_cast<uint64_t>(st.st_size) < end) {
      return Fail(ErrorCode::kInvalidArgument,
                  what + ": its file has " + std::to_string(st.st_size) +
                      " bytes, the region needs " + std::to_string(end));
    }
    // Mapped from offset 0 (mmap_offset need not be page-aligned), as
    // libvhost-user does; the region starts mmap_offset bytes in.
    void* base = ::mmap(nullptr, end, PROT_READ | PROT_WRITE, MAP_SHARED, e.fd.get(), 0);
    if (base == MAP_FAILED) return FailErrno(errno, "mmap of " + what);
    memory->regions_.push_back({.guest_phys_addr = e.guest_phys_addr,
                                .userspace_addr = e.userspace_addr,
                                .size = e.memory_size,
                                .host = static_cast<std::byte*>(base) + e.mmap_offset,
                                .mapping = base,
                                .mapping_size = end});
  }
  return memory;
}

MappedGuestMemory::~MappedGuestMemory() {
  for (const Region& r : regions_) ::munmap(r.mapping, r.mapping_size);
}

std::byte* MappedGuestMemory::Translate(uint64_t device_address, uint64_t length) const {
  for (const Region& r : regions_) {
    if (Inside(r.guest_phys_addr, r.size, device_address, length)) {
      return r.host + (device_address - r.guest_phys_addr);
    }
  }
  return nullptr;
}

std::optional<uint64_t> MappedGuestMemory::GuestAddressOfUser(uint64_t address,
                                                              uint64_t length) const {
  for (const Region& r : regions_) {
    if (Inside(r.userspace_addr, r.size, address, length)) {
      return r.guest_phys_addr + (address - r.userspace_addr);
    }
  }
  return std::nullopt;
}

}  // namespace trellis::virtio::backend
