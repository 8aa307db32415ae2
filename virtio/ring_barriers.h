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

// Writes a hint (flags, used_event, avail_event) that only steers the other
// side's notifications and needs no ordering: disabling notifications, or
// keeping the event index current while they stay enabled.
inline void StoreRelaxed(uint16_t& field, uint16_t value) {
  std::atomic_ref<uint16_t>(field).store(value, std::memory_order_relaxed);
}

// Reads an entry of the available ring outside the pop path (it is ordered
// by the acquire of avail->idx where it matters).
inline uint16_t LoadRelaxed(uint16_t& field) {
  return std::atomic_ref<uint16_t>(field).load(std::memory_order_relaxed);
}

// The full (store-load) barriers of section 2.7.13 and Linux's virtio_mb,
// written as sequentially consistent operations on the ring fields
// themselves rather than as std::atomic_thread_fence: the same cost on x86
// (a locked instruction), correct in the C++ memory model, and understood by
// ThreadSanitizer (GCC rejects fences under -fsanitize=thread). The pattern is
// Dekker's, and all four operations below are seq_cst, so at least one side
// sees the other:
//
//   notifier (after publishing an index)   waiter (enabling notifications)
//   FenceAfterPublish(our index)           StoreHint(our event field/flag)
//   LoadSeqCst(their event field/flag)     LoadSeqCst(their index)
//
// so either the notifier sees the waiter's hint and notifies, or the waiter's
// re-check sees the new index and does not sleep.

// The barrier after publishing `index` (with StoreRelease) and before reading
// the other side's hint: a seq_cst read-modify-write of our own index that
// leaves its value unchanged.
inline void FenceAfterPublish(uint16_t& index) {
  std::atomic_ref<uint16_t>(index).fetch_add(0, std::memory_order_seq_cst);
}

// Writes the hint that (re-)enables notifications before the re-check.
inline void StoreHint(uint16_t& field, uint16_t value) {
  std::atomic_ref<uint16_t>(field).store(value, std::memory_order_seq_cst);
}

// The reads on the two sides of the barrier: the other side's hint (when
// deciding whether to notify) and the other side's index (when re-checking).
// Also acquire, so a re-checked index makes its entries visible.
inline uint16_t LoadSeqCst(uint16_t& field) {
  return std::atomic_ref<uint16_t>(field).load(std::memory_order_seq_cst);
}

}  // namespace trellis::virtio
