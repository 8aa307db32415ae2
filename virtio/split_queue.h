// SplitQueue: the driver side of a split virtqueue (VIRTIO 1.2 section 2.7)
// over ring memory the caller provides: descriptor free list, indirect
// descriptors, RING_EVENT_IDX kick and interrupt suppression, and used-ring
// processing that treats the device as untrusted.
//
// Addresses: a Buffer holds a *device address*, the address the device uses
// to reach the bytes; callers translate before Add (for vhost-user it is our
// own virtual address inside a memfd region registered with SET_MEM_TABLE,
// registered with guest address = user address, so no translation at all).
// The queue itself needs one translation, for its own memory: RingMemory
// pairs the host view of the region with the device address of its first
// byte, and descriptor, ring and indirect-table addresses are offsets into it.
//
// Memory: the caller owns the RingMemory region and keeps it mapped for the
// queue's lifetime (and as long as the device may touch it); the queue carves
// it per SplitQueueLayout. Indirect tables are preallocated in that region,
// one per descriptor slot, so Add never allocates.
//
// Untrusted device: the queue never reads the descriptor table back (it keeps
// private copies of its chains), reads each used element once, and bounds
// every walk by the queue size. A used id out of range or not the head of an
// in-flight chain, a duplicate completion, a length beyond the chain's
// writable bytes, or a used index that moves by more than the queue size
// breaks the queue: every in-flight request completes with an EIO error and
// Add fails from then on. A broken queue never touches the ring again.
//
// Threading: a queue is owned by one dispatcher and touched only from it
// (Add, PollUsed, the callbacks). There are no locks inside; the only
// concurrency is with the device, through the ring (ring_barriers.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "runtime/error.h"
#include "virtio/ring_layout.h"

namespace trellis::virtio {

// One buffer of a request, as the device addresses it.
struct Buffer {
  uint64_t device_address = 0;
  uint32_t length = 0;
};

// Memory for one queue's rings and indirect tables: the host view and the
// device address of host[0]. Both must be 16-byte aligned.
struct RingMemory {
  std::span<std::byte> host;
  uint64_t device_address = 0;
};

struct SplitQueueOptions {
  // Names the queue in errors: "virtio-blk queue 0".
  std::string name;
  // A power of two, 1 to 32768.
  uint16_t size = 0;
  // VIRTIO_F_RING_EVENT_IDX was negotiated.
  bool event_idx = false;
  // Descriptors per indirect table, 0 for none. Non-zero only when
  // VIRTIO_F_INDIRECT_DESC was negotiated; at most `size` (a chain may not
  // be longer than the queue). Chains of 2 to indirect_max buffers use one
  // ring descriptor; longer ones fall back to direct chains.
  uint16_t indirect_max = 0;
};

// Where each part of a queue lives inside its RingMemory. Parts start on
// 64-byte boundaries (beyond the spec's 16/2/4, so that the driver-written
// and device-written rings do not share cache lines).
struct SplitQueueLayout {
  size_t desc_offset = 0;
  size_t avail_offset = 0;
  size_t used_offset = 0;
  size_t indirect_offset = 0;
  size_t total_bytes = 0;

  // Errors: kInvalidArgument for a size that is not a power of two up to
  // 32768, or indirect_max > size.
  static Result<SplitQueueLayout> For(uint16_t size, uint16_t indirect_max);
};

class SplitQueue {
 public:
  // Zeroes the rings in `memory` and sets up the free list.
  // Errors: kInvalidArgument for bad options (see SplitQueueLayout::For), a
  // region smaller than the layout's total_bytes, or misaligned addresses.
  static Result<SplitQueue> Create(SplitQueueOptions options, RingMemory memory);

  SplitQueue(SplitQueue&&) = default;
  SplitQueue& operator=(SplitQueue&&) = default;

  const std::string& name() const { return name_; }
  uint16_t size() const { return ring_.size(); }
  // Device addresses to hand to the transport (vhost-user SET_VRING_ADDR).
  uint64_t desc_device_address() const { return desc_address_; }
  uint64_t avail_device_address() const { return avail_address_; }
  uint64_t used_device_address() const { return used_address_; }
  // Ring descriptors not in use.
  uint16_t num_free() const { return num_free_; }
  // Requests added and not yet completed.
  uint16_t num_in_flight() const { return num_in_flight_; }

  bool broken() const { return broken_; }
  // "virtio-blk queue 0: used id 9 out of range (size 8)"; empty if not broken.
  const std::string& broken_reason() const { return broken_reason_; }

  // Makes `out` (device-readable) then `in` (device-writable) buffers
  // available as one request; `token` comes back with its completion. Does
  // not notify the device: call NeedsNotify after a batch.
  // Returns the head descriptor index.
  // Errors: kResourceExhausted when there are not enough free descriptors
  // (retry after PollUsed completes some; the caller queues); kInvalidArgument
  // for an empty request or one with more buffers than the queue can ever
  // hold; kDataLoss (errno EIO) once the queue is broken.
  Result<uint16_t> Add(std::span<const Buffer> out, std::span<const Buffer> in, void* token);

  // Whether the device wants an available-buffer notification (a kick) for
  // the requests added since the last call: with RING_EVENT_IDX whether the
  // available index crossed the device's avail_event, otherwise whether the
  // device left VIRTQ_USED_F_NO_NOTIFY clear. Call once per batch of Adds; it
  // resets the batch. False when nothing was added or the queue is broken.
  bool NeedsNotify();

  // Asks the device not to send used-buffer notifications (interrupts). Only
  // a hint: the device may still send some.
  void DisableCallbacks();
  // Asks the device for a notification on the next used entry, then
  // re-checks the used ring. Returns true if nothing is pending, so it is
  // safe to wait for the notification; false if entries arrived meanwhile
  // (or a broken queue has requests to fail): call PollUsed again. The
  // lost-wakeup-free pattern is
  //   do { DisableCallbacks(); PollUsed(fn); } while (!EnableCallbacks());
  bool EnableCallbacks();

  // Completes requests: calls fn(void* token, Result<uint32_t> written_len)
  // for each used entry, in ring order, with the bytes the device wrote. If
  // the device broke the ring, fn then runs once for every request still in
  // flight with an EIO error (Error::errno_value() == EIO, code kDataLoss)
  // naming the queue and the violation; afterwards PollUsed returns 0 at once.
  // fn may call Add; it must not call PollUsed or destroy the queue. While
  // callbacks are enabled (EnableCallbacks), PollUsed keeps them armed with
  // RING_EVENT_IDX and re-checks before returning, so an entry that races
  // with its return is either processed or raises a notification.
  // Returns the number of fn calls.
  template <typename Fn>
  requires std::is_invocable_v<Fn&, void*, Result<uint32_t>> size_t PollUsed(Fn&& fn) {
    return PollUsedImpl(CompletionRef{&fn, [](void* f, void* token, Result<uint32_t> len) {
                                        (*static_cast<std::remove_reference_t<Fn>*>(f))(
                                            token, std::move(len));
                                      }});
  }

  // Breaks the queue from outside (the device was reset or disconnected): Add
  // fails from now on and the next PollUsed fails every in-flight request
  // with EIO, without touching the ring. Keeps the first reason if already
  // broken.
  void MarkBroken(std::string reason);

 private:
  struct CompletionRef {
    void* fn;
    void (*call)(void* fn, void* token, Result<uint32_t> len);
  };
  enum class SlotState : uint8_t { kFree, kHead, kBody, kCompleted };
  struct Slot {
    void* token = nullptr;
    uint64_t writable_bytes = 0;
    uint16_t num_descs = 0;
    SlotState state = SlotState::kFree;
  };

  SplitQueue() = default;
  size_t PollUsedImpl(CompletionRef fn);
  // Checks one used element; an empty string means it is a valid completion.
  std::string CheckUsed(uint32_t id, uint32_t len) const;
  // Returns the chain at `head` to the free list; returns its token.
  void* Reclaim(uint16_t head);
  // Completes every in-flight request with the broken error.
  size_t FailInFlight(CompletionRef fn);
  VirtqDesc* IndirectTable(uint16_t head) const;

  std::string name_;
  RingView ring_;
  bool event_idx_ = false;
  uint16_t indirect_max_ = 0;
  std::byte* indirect_host_ = nullptr;
  uint64_t indirect_address_ = 0;
  uint64_t desc_address_ = 0;
  uint64_t avail_address_ = 0;
  uint64_t used_address_ = 0;

  // Private mirror of the chains and the free list (the device may scribble
  // on the shared descriptor table; we never read it back).
  std::vector<uint16_t> next_;
  std::vector<Slot> slots_;
  uint16_t free_head_ = 0;
  uint16_t num_free_ = 0;
  uint16_t num_in_flight_ = 0;

  uint16_t avail_idx_ = 0;         // Our copy of avail->idx.
  uint16_t kicked_avail_idx_ = 0;  // avail->idx at the last NeedsNotify.
  uint32_t added_since_kick_ = 0;
  uint16_t last_used_idx_ = 0;  // Next used entry to process.
  bool callbacks_enabled_ = true;

  bool broken_ = false;
  std::string broken_reason_;
};

}  // namespace trellis::virtio
