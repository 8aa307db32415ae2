#include "virtio/split_queue.h"

#include <atomic>
#include <cerrno>
#include <cstring>

#include "virtio/ring_barriers.h"

namespace trellis::virtio {

namespace {

constexpr size_t kPartAlign = 64;

constexpr size_t AlignUp(size_t n, size_t align) { return (n + align - 1) & ~(align - 1); }

// Used elements are device-written memory: read each field exactly once,
// atomically, so a device writing concurrently cannot tear a value between
// our check and our use.
uint32_t LoadUsedField(uint32_t& field) {
  return std::atomic_ref<uint32_t>(field).load(std::memory_order_relaxed);
}

}  // namespace

Result<SplitQueueLayout> SplitQueueLayout::For(uint16_t size, uint16_t indirect_max) {
  if (!IsValidQueueSize(size)) {
    return Fail(ErrorCode::kInvalidArgument,
                "queue size " + std::to_string(size) + " is not a power of two up to 32768");
  }
  if (indirect_max > size) {
    return Fail(ErrorCode::kInvalidArgument, "indirect tables of " + std::to_string(indirect_max) +
                                                 " descriptors exceed the queue size " +
                                                 std::to_string(size));
  }
  SplitQueueLayout layout;
  layout.desc_offset = 0;
  layout.avail_offset = AlignUp(DescTableBytes(size), kPartAlign);
  layout.used_offset = AlignUp(layout.avail_offset + AvailRingBytes(size), kPartAlign);
  layout.indirect_offset = AlignUp(layout.used_offset + UsedRingBytes(size), kPartAlign);
  layout.total_bytes =
      layout.indirect_offset + size_t{size} * size_t{indirect_max} * sizeof(VirtqDesc);
  return layout;
}

Result<SplitQueue> SplitQueue::Create(SplitQueueOptions options, RingMemory memory) {
  TRELLIS_ASSIGN_OR_RETURN(SplitQueueLayout layout,
                           SplitQueueLayout::For(options.size, options.indirect_max), options.name);
  if (memory.host.size() < layout.total_bytes) {
    return Fail(ErrorCode::kInvalidArgument,
                options.name + ": ring memory of " + std::to_string(memory.host.size()) +
                    " bytes is smaller than the " + std::to_string(layout.total_bytes) +
                    " bytes needed");
  }
  if (reinterpret_cast<uintptr_t>(memory.host.data()) % kDescTableAlign != 0 ||
      memory.device_address % kDescTableAlign != 0) {
    return Fail(ErrorCode::kInvalidArgument, options.name + ": ring memory is not 16-byte aligned");
  }
  if (memory.device_address + layout.total_bytes < memory.device_address) {
    return Fail(ErrorCode::kInvalidArgument,
                options.name + ": ring memory wraps the device address space");
  }
  std::byte* base = memory.host.data();
  std::memset(base, 0, layout.total_bytes);

  SplitQueue q;
  q.name_ = std::move(options.name);
  q.ring_ = RingView(options.size, base + layout.desc_offset, base + layout.avail_offset,
                     base + layout.used_offset);
  q.event_idx_ = options.event_idx;
  q.indirect_max_ = options.indirect_max;
  q.indirect_host_ = base + layout.indirect_offset;
  q.indirect_address_ = memory.device_address + layout.indirect_offset;
  q.desc_address_ = memory.device_address + layout.desc_offset;
  q.avail_address_ = memory.device_address + layout.avail_offset;
  q.used_address_ = memory.device_address + layout.used_offset;
  q.next_.resize(options.size);
  q.slots_.resize(options.size);
  for (uint32_t i = 0; i < options.size; ++i) {
    q.next_[i] = static_cast<uint16_t>((i + 1) % options.size);
  }
  q.free_head_ = 0;
  q.num_free_ = options.size;
  return q;
}

VirtqDesc* SplitQueue::IndirectTable(uint16_t head) const {
  return reinterpret_cast<VirtqDesc*>(indirect_host_) + size_t{head} * indirect_max_;
}

Result<uint16_t> SplitQueue::Add(std::span<const Buffer> out, std::span<const Buffer> in,
                                 void* token) {
  if (broken_) {
    return FailErrno(EIO, broken_reason_);
  }
  const size_t count = out.size() + in.size();
  if (count == 0) {
    return Fail(ErrorCode::kInvalidArgument, name_ + ": a request needs at least one buffer");
  }
  const bool indirect = indirect_max_ > 0 && count > 1 && count <= indirect_max_;
  const size_t needed = indirect ? 1 : count;
  if (needed > size()) {
    return Fail(ErrorCode::kInvalidArgument, name_ + ": a request of " + std::to_string(count) +
                                                 " buffers does not fit a queue of " +
                                                 std::to_string(size()));
  }
  if (needed > num_free_) {
    return Fail(ErrorCode::kResourceExhausted, name_ + ": " + std::to_string(num_free_) +
                                                   " free descriptors, " + std::to_string(needed) +
                                                   " needed");
  }

  const uint16_t head = free_head_;
  uint64_t writable = 0;
  // Writes buffer i of the request (out first, then in) into `d`.
  auto fill = [&](VirtqDesc& d, size_t i) {
    const bool is_in = i >= out.size();
    const Buffer& b = is_in ? in[i - out.size()] : out[i];
    d.addr = b.device_address;
    d.len = b.length;
    d.flags = is_in ? VIRTQ_DESC_F_WRITE : 0;
    if (is_in) writable += b.length;
  };

  if (indirect) {
    VirtqDesc* table = IndirectTable(head);
    for (size_t i = 0; i < count; ++i) {
      fill(table[i], i);
      if (i + 1 < count) {
        table[i].flags |= VIRTQ_DESC_F_NEXT;
        table[i].next = static_cast<uint16_t>(i + 1);
      } else {
        table[i].next = 0;
      }
    }
    VirtqDesc& d = ring_.desc(head);
    d.addr = indirect_address_ + (reinterpret_cast<std::byte*>(table) - indirect_host_);
    d.len = static_cast<uint32_t>(count * sizeof(VirtqDesc));
    d.flags = VIRTQ_DESC_F_INDIRECT;
    d.next = 0;
    free_head_ = next_[head];
  } else {
    // The free list is already linked through next_: take `count` entries.
    uint16_t i = head;
    for (size_t k = 0; k < count; ++k) {
      VirtqDesc& d = ring_.desc(i);
      fill(d, k);
      if (k + 1 < count) {
        d.flags |= VIRTQ_DESC_F_NEXT;
        d.next = next_[i];
        slots_[next_[i]].state = SlotState::kBody;
      } else {
        d.next = 0;
      }
      i = next_[i];
    }
    free_head_ = i;
  }
  num_free_ = static_cast<uint16_t>(num_free_ - needed);
  slots_[head] = Slot{.token = token,
                      .writable_bytes = writable,
                      .num_descs = static_cast<uint16_t>(needed),
                      .state = SlotState::kHead};
  ++num_in_flight_;

  ring_.avail_ring(avail_idx_ & (size() - 1)) = head;
  ++avail_idx_;
  // Publishes the ring slot and the descriptors above to the device.
  StoreRelease(ring_.avail_idx(), avail_idx_);
  ++added_since_kick_;
  return head;
}

bool SplitQueue::NeedsNotify() {
  const uint16_t old_idx = kicked_avail_idx_;
  const uint32_t added = added_since_kick_;
  kicked_avail_idx_ = avail_idx_;
  added_since_kick_ = 0;
  if (broken_ || added == 0) return false;
  // Our avail->idx store must be visible before we read the device's
  // suppression hint, or the device may go to sleep on an old index while we
  // skip the kick (section 2.7.13.4, step 2 then 3).
  FenceAfterPublish(ring_.avail_idx());
  if (event_idx_) {
    // More than 2^16 - 1 adds between kicks wrap the index comparison.
    if (added >= 0xffff) return true;
    return NeedEvent(LoadSeqCst(ring_.avail_event()), avail_idx_, old_idx);
  }
  return (LoadSeqCst(ring_.used_flags()) & VIRTQ_USED_F_NO_NOTIFY) == 0;
}

void SplitQueue::DisableCallbacks() {
  callbacks_enabled_ = false;
  if (broken_) return;
  if (event_idx_) {
    // An event index just behind everything the device can still publish:
    // vring_need_event is false for it until the index wraps.
    StoreRelaxed(ring_.used_event(), static_cast<uint16_t>(last_used_idx_ - 1));
  } else {
    StoreRelaxed(ring_.avail_flags(), VIRTQ_AVAIL_F_NO_INTERRUPT);
  }
}

bool SplitQueue::EnableCallbacks() {
  callbacks_enabled_ = true;
  if (broken_) return num_in_flight_ == 0;
  if (event_idx_) {
    StoreHint(ring_.used_event(), last_used_idx_);
  } else {
    StoreHint(ring_.avail_flags(), 0);
  }
  // The hint above must be visible before we re-read used->idx: otherwise a
  // device that published an entry and then read the old hint sends nothing,
  // and we would sleep with that entry pending.
  return LoadSeqCst(ring_.used_idx()) == last_used_idx_;
}

void SplitQueue::MarkBroken(std::string reason) {
  if (broken_) return;
  broken_ = true;
  broken_reason_ = name_ + ": " + std::move(reason);
}

std::string SplitQueue::CheckUsed(uint32_t id, uint32_t len) const {
  if (id >= size()) {
    return "used id " + std::to_string(id) + " out of range (size " + std::to_string(size()) + ")";
  }
  const Slot& slot = slots_[id];
  if (slot.state == SlotState::kCompleted) {
    return "duplicate completion of head " + std::to_string(id);
  }
  if (slot.state != SlotState::kHead) {
    return "used id " + std::to_string(id) + " is not the head of an in-flight chain";
  }
  if (len > slot.writable_bytes) {
    return "used len " + std::to_string(len) + " for head " + std::to_string(id) +
           " exceeds the chain's " + std::to_string(slot.writable_bytes) + " writable bytes";
  }
  return {};
}

void* SplitQueue::Reclaim(uint16_t head) {
  Slot& slot = slots_[head];
  // Walks our private links, bounded by the chain length we recorded.
  uint16_t last = head;
  for (uint16_t k = 1; k < slot.num_descs; ++k) last = next_[last];
  next_[last] = free_head_;
  free_head_ = head;
  num_free_ = static_cast<uint16_t>(num_free_ + slot.num_descs);
  --num_in_flight_;
  slot.state = SlotState::kCompleted;
  slot.num_descs = 0;
  return std::exchange(slot.token, nullptr);
}

size_t SplitQueue::FailInFlight(CompletionRef fn) {
  size_t calls = 0;
  for (uint16_t i = 0; i < size() && num_in_flight_ > 0; ++i) {
    Slot& slot = slots_[i];
    if (slot.state != SlotState::kHead) continue;
    slot.state = SlotState::kFree;
    --num_in_flight_;
    void* token = std::exchange(slot.token, nullptr);
    fn.call(fn.fn, token, FailErrno(EIO, broken_reason_));
    ++calls;
  }
  return calls;
}

size_t SplitQueue::PollUsedImpl(CompletionRef fn) {
  if (broken_) return FailInFlight(fn);
  size_t calls = 0;
  const uint16_t mask = static_cast<uint16_t>(size() - 1);
  for (;;) {
    // Acquire: the used elements up to this index are visible below.
    const uint16_t used_idx = LoadAcquire(ring_.used_idx());
    const uint16_t pending = static_cast<uint16_t>(used_idx - last_used_idx_);
    if (pending > size()) {
      // Also catches an index that went backwards: in 16-bit arithmetic that
      // is a jump of nearly 2^16.
      MarkBroken("used idx moved from " + std::to_string(last_used_idx_) + " to " +
                 std::to_string(used_idx) + ", more than the queue size " + std::to_string(size()));
      return calls + FailInFlight(fn);
    }
    for (uint16_t k = 0; k < pending; ++k) {
      VirtqUsedElem& elem = ring_.used_elem(last_used_idx_ & mask);
      const uint32_t id = LoadUsedField(elem.id);
      const uint32_t len = LoadUsedField(elem.len);
      if (std::string violation = CheckUsed(id, len); !violation.empty()) {
        MarkBroken(std::move(violation));
        return calls + FailInFlight(fn);
      }
      ++last_used_idx_;
      void* token = Reclaim(static_cast<uint16_t>(id));
      fn.call(fn.fn, token, len);
      ++calls;
      if (broken_) return calls + FailInFlight(fn);  // fn called MarkBroken.
    }
    if (!event_idx_ || !callbacks_enabled_) return calls;
    // Keep the notification armed for the next entry, then re-check for one
    // that the device published before it could see the new used_event (see
    // EnableCallbacks). Each further round consumes at least one entry.
    StoreHint(ring_.used_event(), last_used_idx_);
    if (LoadSeqCst(ring_.used_idx()) == last_used_idx_) return calls;
  }
}

}  // namespace trellis::virtio
