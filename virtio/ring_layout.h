// The split virtqueue's shared-memory layout (VIRTIO 1.2 section 2.7):
// descriptor table, available ring, used ring, their flags, and
// vring_need_event. Shared by the driver side (virtio/split_queue.h) and the
// device side (virtio/backend/device_queue.h).
//
// RingView is a non-owning view of ring memory that someone else owns (the
// queue's creator); it holds no state of its own. All multi-byte fields are
// little-endian, which is the host order: we build for little-endian only.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

namespace trellis::virtio {

static_assert(std::endian::native == std::endian::little,
              "VirtIO 1.x rings are little-endian; a big-endian port needs byte swaps here");

inline constexpr uint32_t kMaxQueueSize = 32768;

// A queue size is a power of two from 1 to 32768.
inline constexpr bool IsValidQueueSize(uint32_t size) {
  return size != 0 && size <= kMaxQueueSize && std::has_single_bit(size);
}

// Descriptor flags.
inline constexpr uint16_t VIRTQ_DESC_F_NEXT = 1;
inline constexpr uint16_t VIRTQ_DESC_F_WRITE = 2;
inline constexpr uint16_t VIRTQ_DESC_F_INDIRECT = 4;
// Available ring flag: the driver asks for no used-buffer notifications.
inline constexpr uint16_t VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
// Used ring flag: the device asks for no available-buffer notifications.
inline constexpr uint16_t VIRTQ_USED_F_NO_NOTIFY = 1;

struct VirtqDesc {
  uint64_t addr;  // Device address of the buffer.
  uint32_t len;
  uint16_t flags;
  uint16_t next;
};
static_assert(sizeof(VirtqDesc) == 16);

struct VirtqUsedElem {
  uint32_t id;   // Head of the completed chain.
  uint32_t len;  // Bytes the device wrote into the chain's writable buffers.
};
static_assert(sizeof(VirtqUsedElem) == 8);

// Sizes and alignments of the three parts (section 2.7): the descriptor
// table 16-aligned, the available ring 2-aligned, the used ring 4-aligned.
// Both rings include the trailing event field of VIRTIO_F_RING_EVENT_IDX.
inline constexpr size_t kDescTableAlign = 16;
inline constexpr size_t kAvailRingAlign = 2;
inline constexpr size_t kUsedRingAlign = 4;
inline constexpr size_t DescTableBytes(uint32_t size) { return 16 * size_t{size}; }
inline constexpr size_t AvailRingBytes(uint32_t size) { return 6 + 2 * size_t{size}; }
inline constexpr size_t UsedRingBytes(uint32_t size) { return 6 + 8 * size_t{size}; }

// vring_need_event: whether moving an index from `old_idx` to `new_idx`
// crosses `event_idx`, i.e. the other side asked to be notified at an entry
// in [old_idx, new_idx). All in 16-bit wrap arithmetic.
inline constexpr bool NeedEvent(uint16_t event_idx, uint16_t new_idx, uint16_t old_idx) {
  return static_cast<uint16_t>(new_idx - event_idx - 1) < static_cast<uint16_t>(new_idx - old_idx);
}

// Typed access to the fields of one split ring. The pointers must be aligned
// as above; the accessors return references into the shared memory, to be
// used through ring_barriers.h for the 16-bit fields both sides write.
class RingView {
 public:
  RingView() = default;
  RingView(uint16_t size, void* desc, void* avail, void* used)
      : size_(size),
        desc_(static_cast<VirtqDesc*>(desc)),
        avail_(static_cast<uint16_t*>(avail)),
        used_(static_cast<uint16_t*>(used)) {}

  uint16_t size() const { return size_; }

  VirtqDesc& desc(uint16_t i) const { return desc_[i]; }

  uint16_t& avail_flags() const { return avail_[0]; }
  uint16_t& avail_idx() const { return avail_[1]; }
  uint16_t& avail_ring(uint16_t i) const { return avail_[2 + i]; }
  // Written by the driver: notify me when the used index passes this.
  uint16_t& used_event() const { return avail_[2 + size_]; }

  uint16_t& used_flags() const { return used_[0]; }
  uint16_t& used_idx() const { return used_[1]; }
  VirtqUsedElem& used_elem(uint16_t i) const {
    return reinterpret_cast<VirtqUsedElem*>(used_ + 2)[i];
  }
  // Written by the device: notify me when the available index passes this.
  uint16_t& avail_event() const { return used_[2 + 4 * size_]; }

 private:
  uint16_t size_ = 0;
  VirtqDesc* desc_ = nullptr;
  uint16_t* avail_ = nullptr;
  uint16_t* used_ = nullptr;
};

}  // namespace trellis::virtio
