// Memory ordering for the split rings, in one place (VIRTIO 1.2 sections
// 2.7.13 and 2.7.7-2.7.10). The other side of a ring is another process (or
// another thread in tests), so every 16-bit field both sides touch goes
// through std::atomic_ref; the entries themselves (descriptors, ring slots,
// used elements) are ordinary memory published by the release store of an
// index and read after the acquire load of it.
//
// Stateless helpers, usable from any thread.
#pragma once

#include <atomic>
#include <cstdint>

namespace trellis::virtio {

// Reads an index the other side publishes (avail->idx on the device side,
// used->idx on the driver side). Acquire: the entries the other side wrote
// before publishing the index are visible after this load.
inline uint16_t LoadAcquire(uint16_t& field) {
  return std::atomic_ref<uint16_t>(field).load(std::memory_order_acquire);
}

// Publishes an index (avail->idx, used->idx). Release: the entries written
// before (ring slots, descriptors, used elements) are visible to whoever
// acquires the new index.
inline void StoreRelease(uint16_t& field, uint16_t value) {
  std::atomic_ref<uint16_t>(field).store(value, std::memory_order_release);
}

// Reads a hint the other side writes (flags, used_event, avail_event). The
// value only steers notifications, so no ordering of its own; FullFence
// orders it against our index stores where that matters.
inline uint16_t LoadRelaxed(uint16_t& field) {
  return std::atomic_ref<uint16_t>(field).load(std::memory_order_relaxed);
}

// Writes a hint (flags, used_event, avail_event). Followed by FullFence where
// a re-check must see the other side's index after the hint is visible.
inline void StoreRelaxed(uint16_t& field, uint16_t value) {
  std::atomic_ref<uint16_t>(field).store(value, std::memory_order_relaxed);
}

// A full (store-load) fence. Needed in two places (section 2.7.13.4 and
// Linux's virtio_mb): between publishing an index and reading the other
// side's event field/flags to decide whether to notify, and between writing
// our own event field/flags and re-reading the other side's index to catch
// an entry that raced with enabling notifications. Release/acquire alone
// does not order a store before a later load.
inline void FullFence() { std::atomic_thread_fence(std::memory_order_seq_cst); }

}  // namespace trellis::virtio
