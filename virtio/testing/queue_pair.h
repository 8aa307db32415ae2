// QueuePair: a driver-side SplitQueue and a device-side DeviceQueue over one
// mmap'd region in one process, for tests. The device address of every byte
// is its host address (as with vhost-user, where we register our memfd
// regions with guest address = user address).
//
// Layout of the region: the queue's rings and indirect tables, then a data
// area tests carve buffers from. The QueuePair owns the mapping; the queues
// point into it, so it is neither copyable nor movable. One thread.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "runtime/error.h"
#include "virtio/backend/device_queue.h"
#include "virtio/backend/guest_memory.h"
#include "virtio/split_queue.h"

namespace trellis::virtio::testing {

struct QueuePairOptions {
  uint16_t size = 8;
  bool event_idx = false;
  // Indirect descriptors per table; non-zero also tells the device that
  // VIRTIO_F_INDIRECT_DESC was negotiated.
  uint16_t indirect_max = 0;
  size_t data_bytes = 64 * 1024;
};

class QueuePair {
 public:
  static Result<std::unique_ptr<QueuePair>> Create(QueuePairOptions options) {
    TRELLIS_ASSIGN_OR_RETURN(SplitQueueLayout layout,
                             SplitQueueLayout::For(options.size, options.indirect_max));
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t ring_bytes = (layout.total_bytes + page - 1) / page * page;
    const size_t total = ring_bytes + options.data_bytes;
    void* base = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) return FailErrno(errno, "mmap of the queue pair's region");
    std::unique_ptr<QueuePair> pair(new QueuePair(static_cast<std::byte*>(base), total));
    pair->data_ = std::span<std::byte>(pair->base_ + ring_bytes, options.data_bytes);
    pair->memory_ = std::make_unique<LinearGuestMemory>(std::span<std::byte>(pair->base_, total),
                                                        reinterpret_cast<uint64_t>(pair->base_));
    TRELLIS_ASSIGN_OR_RETURN(
        SplitQueue driver,
        SplitQueue::Create({.name = "test queue",
                            .size = options.size,
                            .event_idx = options.event_idx,
                            .indirect_max = options.indirect_max},
                           RingMemory{.host = std::span<std::byte>(pair->base_, ring_bytes),
                                      .device_address = reinterpret_cast<uint64_t>(pair->base_)}));
    pair->driver_ = std::make_unique<SplitQueue>(std::move(driver));
    TRELLIS_ASSIGN_OR_RETURN(
        DeviceQueue device,
        DeviceQueue::Create({.name = "test device",
                             .size = options.size,
                             .desc_address = pair->driver_->desc_device_address(),
                             .avail_address = pair->driver_->avail_device_address(),
                             .used_address = pair->driver_->used_device_address(),
                             .event_idx = options.event_idx,
                             .indirect = options.indirect_max > 0},
                            *pair->memory_));
    pair->device_ = std::make_unique<DeviceQueue>(std::move(device));
    return pair;
  }

  QueuePair(const QueuePair&) = delete;
  QueuePair& operator=(const QueuePair&) = delete;
  ~QueuePair() { munmap(base_, total_); }

  SplitQueue& driver() { return *driver_; }
  DeviceQueue& device() { return *device_; }
  std::span<std::byte> data() { return data_; }

  // A buffer of `length` bytes at `offset` into the data area.
  Buffer BufferAt(size_t offset, uint32_t length) {
    return Buffer{.device_address = reinterpret_cast<uint64_t>(data_.data() + offset),
                  .length = length};
  }
  std::byte* HostAt(size_t offset) { return data_.data() + offset; }

  // Makes the whole region (rings included) inaccessible or accessible again:
  // a test that a broken queue never touches its ring.
  void SetAccessible(bool accessible) {
    mprotect(base_, total_, accessible ? PROT_READ | PROT_WRITE : PROT_NONE);
  }

 private:
  QueuePair(std::byte* base, size_t total) : base_(base), total_(total) {}

  std::byte* base_;
  size_t total_;
  std::span<std::byte> data_;
  std::unique_ptr<LinearGuestMemory> memory_;
  std::unique_ptr<SplitQueue> driver_;
  std::unique_ptr<DeviceQueue> device_;
};

}  // namespace trellis::virtio::testing
