// GuestMemory: how a device-side queue (device_queue.h) turns the device
// addresses a driver put in its rings into host pointers. For a vhost-user
// backend that is the SET_MEM_TABLE regions; for in-process tests one linear
// region.
//
// Implementations are immutable once shared with a queue and may be read from
// the queue's thread; the owner keeps them (and the memory) alive longer than
// every queue that borrows them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace trellis::virtio {

class GuestMemory {
 public:
  virtual ~GuestMemory() = default;
  // The host address of [device_address, device_address + length), or nullptr
  // if any byte of it is outside the mapped memory (the driver is untrusted:
  // every address it hands us goes through here). A zero length is valid at
  // any address inside or one past a region.
  virtual std::byte* Translate(uint64_t device_address, uint64_t length) const = 0;
};

// One contiguous region: device address `device_base` is host[0].
class LinearGuestMemory final : public GuestMemory {
 public:
  LinearGuestMemory(std::span<std::byte> host, uint64_t device_base)
      : host_(host), device_base_(device_base) {}

  std::byte* Translate(uint64_t device_address, uint64_t length) const override {
    if (device_address < device_base_) return nullptr;
    const uint64_t offset = device_address - device_base_;
    if (offset > host_.size() || length > host_.size() - offset) return nullptr;
    return host_.data() + offset;
  }

 private:
  std::span<std::byte> host_;
  uint64_t device_base_;
};

}  // namespace trellis::virtio
