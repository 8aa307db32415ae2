#include "virtio/backend/device_queue.h"

#include <cerrno>
#include <cstring>
#include <limits>

#include "virtio/ring_barriers.h"

namespace trellis::virtio {

namespace {

// Descriptors are driver-written memory: copy each one out once, then check
// and use the copy (no double fetch).
VirtqDesc ReadDesc(const std::byte* table, uint32_t i) {
  VirtqDesc d;
  std::memcpy(&d, table + size_t{i} * sizeof(VirtqDesc), sizeof(d));
  return d;
}

}  // namespace

Result<DeviceQueue> DeviceQueue::Create(DeviceQueueConfig config, const GuestMemory& memory) {
  if (!IsValidQueueSize(config.size)) {
    return Fail(ErrorCode::kInvalidArgument, config.name + ": queue size " +
                                                 std::to_string(config.size) +
                                                 " is not a power of two up to 32768");
  }
  if (config.desc_address % kDescTableAlign != 0 || config.avail_address % kAvailRingAlign != 0 ||
      config.used_address % kUsedRingAlign != 0) {
    return Fail(ErrorCode::kInvalidArgument, config.name + ": misaligned ring address");
  }
  std::byte* desc = memory.Translate(config.desc_address, DescTableBytes(config.size));
  std::byte* avail = memory.Translate(config.avail_address, AvailRingBytes(config.size));
  std::byte* used = memory.Translate(config.used_address, UsedRingBytes(config.size));
  if (desc == nullptr || avail == nullptr || used == nullptr) {
    return Fail(ErrorCode::kInvalidArgument, config.name + ": ring outside guest memory");
  }
  if (reinterpret_cast<uintptr_t>(desc) % kDescTableAlign != 0 ||
      reinterpret_cast<uintptr_t>(avail) % kAvailRingAlign != 0 ||
      reinterpret_cast<uintptr_t>(used) % kUsedRingAlign != 0) {
    return Fail(ErrorCode::kInvalidArgument, config.name + ": ring maps to misaligned memory");
  }
  DeviceQueue q;
  q.name_ = std::move(config.name);
  q.memory_ = &memory;
  q.ring_ = RingView(config.size, desc, avail, used);
  q.event_idx_ = config.event_idx;
  q.indirect_ = config.indirect;
  q.popped_.resize(config.size);
  q.last_avail_idx_ = config.avail_base;
  q.used_idx_ = LoadAcquire(q.ring_.used_idx());
  q.signalled_used_idx_ = q.used_idx_;
  return q;
}

Result<void> DeviceQueue::Break(std::string violation) {
  if (!broken_) {
    broken_ = true;
    broken_reason_ = name_ + ": " + std::move(violation);
  }
  return FailErrno(EIO, broken_reason_);
}

Result<void> DeviceQueue::WalkChain(uint16_t head, DeviceChain& chain) {
  const std::byte* table = reinterpret_cast<const std::byte*>(&ring_.desc(0));
  uint32_t table_size = size();
  bool in_indirect = false;
  uint32_t i = head;
  // At most table_size descriptors per table: a longer walk is a loop.
  for (uint32_t visited = 1;; ++visited) {
    if (visited > table_size) {
      return Break("chain at head " + std::to_string(head) + " is longer than " +
                   std::to_string(table_size) + " descriptors (a loop?)");
    }
    const VirtqDesc d = ReadDesc(table, i);
    if ((d.flags & VIRTQ_DESC_F_INDIRECT) != 0) {
      if (!indirect_) return Break("indirect descriptor without VIRTIO_F_INDIRECT_DESC");
      if (in_indirect) return Break("indirect descriptor inside an indirect table");
      if ((d.flags & VIRTQ_DESC_F_NEXT) != 0) {
        return Break("indirect descriptor with VIRTQ_DESC_F_NEXT");
      }
      if (d.len == 0 || d.len % sizeof(VirtqDesc) != 0 || d.len / sizeof(VirtqDesc) > size()) {
        return Break("indirect table of " + std::to_string(d.len) + " bytes");
      }
      const std::byte* indirect = memory_->Translate(d.addr, d.len);
      if (indirect == nullptr) return Break("indirect table outside guest memory");
      table = indirect;
      table_size = d.len / sizeof(VirtqDesc);
      in_indirect = true;
      i = 0;
      visited = 0;
      continue;
    }
    std::byte* host = memory_->Translate(d.addr, d.len);
    if (host == nullptr) {
      return Break("buffer at " + std::to_string(d.addr) + " of " + std::to_string(d.len) +
                   " bytes outside guest memory");
    }
    if ((d.flags & VIRTQ_DESC_F_WRITE) != 0) {
      chain.writable.emplace_back(host, d.len);
      chain.writable_bytes += d.len;
    } else {
      if (!chain.writable.empty()) return Break("readable buffer after a writable one");
      chain.readable.emplace_back(host, d.len);
      chain.readable_bytes += d.len;
    }
    if ((d.flags & VIRTQ_DESC_F_NEXT) == 0) return Ok();
    if (d.next >= table_size) {
      return Break("next " + std::to_string(d.next) + " out of range (table of " +
                   std::to_string(table_size) + ")");
    }
    if (!in_indirect && visited == 1) popped_[head].second_desc = d.next;
    i = d.next;
  }
}

Result<bool> DeviceQueue::Pop(DeviceChain& chain) {
  if (broken_) return FailErrno(EIO, broken_reason_);
  // Acquire: the ring slots and descriptors the driver wrote before
  // publishing this index are visible below.
  const uint16_t avail_idx = LoadAcquire(ring_.avail_idx());
  const uint16_t pending = static_cast<uint16_t>(avail_idx - last_avail_idx_);
  if (pending > size()) {
    TRELLIS_TRY(Break("avail idx moved from " + std::to_string(last_avail_idx_) + " to " +
                      std::to_string(avail_idx) + ", more than the queue size"));
  }
  if (pending == 0) return false;
  const uint16_t head = LoadRelaxed(ring_.avail_ring(last_avail_idx_ & (size() - 1)));
  if (head >= size()) {
    TRELLIS_TRY(Break("available head " + std::to_string(head) + " out of range"));
  }
  if (popped_[head].in_flight) {
    TRELLIS_TRY(Break("available head " + std::to_string(head) + " is already in flight"));
  }
  chain.head = head;
  chain.readable.clear();
  chain.writable.clear();
  chain.readable_bytes = 0;
  chain.writable_bytes = 0;
  popped_[head].second_desc = 0xffff;
  TRELLIS_TRY(WalkChain(head, chain));

  ++last_avail_idx_;
  popped_[head].in_flight = true;
  popped_[head].writable_bytes = chain.writable_bytes;
  ++num_popped_;
  if (event_idx_ && notifications_enabled_) {
    StoreRelaxed(ring_.avail_event(), last_avail_idx_);
  }
  return true;
}

uint32_t DeviceQueue::PickNonHead(uint16_t head) const {
  // A body descriptor of this very chain is the clearest case.
  if (popped_[head].second_desc < size()) return popped_[head].second_desc;
  // Else a descriptor that heads nothing the driver has in flight: not
  // popped, and not waiting in the available ring.
  std::vector<bool> heads(size());
  for (uint32_t i = 0; i < size(); ++i) heads[i] = popped_[i].in_flight || i == head;
  const uint16_t avail_idx = LoadAcquire(ring_.avail_idx());
  const uint16_t pending = static_cast<uint16_t>(avail_idx - last_avail_idx_);
  for (uint32_t k = 0; k < pending && k < size(); ++k) {
    const uint16_t h = LoadRelaxed(ring_.avail_ring((last_avail_idx_ + k) & (size() - 1)));
    if (h < size()) heads[h] = true;
  }
  for (uint32_t i = 0; i < size(); ++i) {
    if (!heads[i]) return i;
  }
  return size();  // Every descriptor heads a chain: out of range instead.
}

void DeviceQueue::WriteUsed(uint16_t slot_idx, uint32_t id, uint32_t len) {
  VirtqUsedElem& elem = ring_.used_elem(slot_idx & (size() - 1));
  elem.id = id;
  elem.len = len;
}

Result<void> DeviceQueue::Push(uint16_t head, uint32_t written) {
  if (broken_) return FailErrno(EIO, broken_reason_);
  if (head >= size() || !popped_[head].in_flight) {
    return Fail(ErrorCode::kInvalidArgument,
                name_ + ": push of head " + std::to_string(head) + ", which was not popped");
  }
  const uint64_t writable = popped_[head].writable_bytes;
  if (written > writable) {
    return Fail(ErrorCode::kInvalidArgument, name_ + ": push of " + std::to_string(written) +
                                                 " bytes into a chain of " +
                                                 std::to_string(writable) + " writable bytes");
  }
  popped_[head].in_flight = false;
  --num_popped_;

  const Misbehaviour m = std::exchange(misbehaviour_, Misbehaviour::kNone);
  uint32_t id = head;
  uint32_t len = written;
  uint16_t step = 1;
  switch (m) {
    case Misbehaviour::kNone:
      break;
    case Misbehaviour::kIdOutOfRange:
      id = size();
      break;
    case Misbehaviour::kIdNotHead:
      id = PickNonHead(head);
      break;
    case Misbehaviour::kDuplicate:
      WriteUsed(used_idx_, id, len);
      ++used_idx_;
      ++pushed_since_call_;
      break;
    case Misbehaviour::kLengthTooLarge:
      len = writable < std::numeric_limits<uint32_t>::max() ? static_cast<uint32_t>(writable + 1)
                                                            : std::numeric_limits<uint32_t>::max();
      break;
    case Misbehaviour::kIndexJump:
      step = static_cast<uint16_t>(size() + 1);
      break;
    case Misbehaviour::kIndexBackwards:
      step = 0xffff;  // -1 in 16-bit arithmetic.
      break;
  }
  WriteUsed(used_idx_, id, len);
  used_idx_ = static_cast<uint16_t>(used_idx_ + step);
  ++pushed_since_call_;
  // Publishes the used element(s) above to the driver.
  StoreRelease(ring_.used_idx(), used_idx_);
  return Ok();
}

bool DeviceQueue::NeedsCall() {
  const uint16_t old_idx = signalled_used_idx_;
  const uint32_t pushed = pushed_since_call_;
  signalled_used_idx_ = used_idx_;
  pushed_since_call_ = 0;
  if (pushed == 0) return false;
  // Our used->idx store must be visible before we read the driver's hint
  // (the mirror of SplitQueue::NeedsNotify).
  FenceAfterPublish(ring_.used_idx());
  if (event_idx_) {
    if (pushed >= 0xffff) return true;
    return NeedEvent(LoadSeqCst(ring_.used_event()), used_idx_, old_idx);
  }
  return (LoadSeqCst(ring_.avail_flags()) & VIRTQ_AVAIL_F_NO_INTERRUPT) == 0;
}

void DeviceQueue::DisableNotifications() {
  notifications_enabled_ = false;
  if (event_idx_) {
    StoreRelaxed(ring_.avail_event(), static_cast<uint16_t>(last_avail_idx_ - 1));
  } else {
    StoreRelaxed(ring_.used_flags(), VIRTQ_USED_F_NO_NOTIFY);
  }
}

bool DeviceQueue::EnableNotifications() {
  notifications_enabled_ = true;
  if (event_idx_) {
    StoreHint(ring_.avail_event(), last_avail_idx_);
  } else {
    StoreHint(ring_.used_flags(), 0);
  }
  // The hint must be visible before we re-read avail->idx (see
  // SplitQueue::EnableCallbacks).
  return broken_ || LoadSeqCst(ring_.avail_idx()) == last_avail_idx_;
}

}  // namespace trellis::virtio
