// DeviceQueue: the device side of a split virtqueue, for our own backends
// (the vhost-user rng/console backends, and tests that play the device).
//
// It pops available chains, handing out their readable and writable buffers
// as host spans (through a GuestMemory), pushes used entries, and honours
// RING_EVENT_IDX for call (interrupt) and kick suppression. The driver is
// untrusted too: every index is range-checked, every chain walk is bounded by
// the queue size (which also stops descriptor loops), indirect tables are
// validated, and every address is translated with its length. A violation
// breaks the queue: Pop and Push fail with EIO from then on.
//
// Hostile mode: set_misbehaviour() makes the *next* Push produce one kind of
// malformed used ring, so tests can check the driver side survives it.
//
// Ownership and threading: the ring memory belongs to the driver; the
// GuestMemory is borrowed and must outlive the queue. A queue is used from one
// thread (the backend's loop or the test); no locks inside.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "runtime/error.h"
#include "virtio/backend/guest_memory.h"
#include "virtio/ring_layout.h"

namespace trellis::virtio {

// What the next Push does wrong (then it goes back to kNone).
enum class Misbehaviour {
  kNone,
  kIdOutOfRange,    // Used id = queue size.
  kIdNotHead,       // Used id = a descriptor that heads no in-flight chain.
  kDuplicate,       // The entry is pushed twice.
  kLengthTooLarge,  // Used len = the chain's writable bytes + 1.
  kIndexJump,       // used->idx moves by size + 1 instead of 1.
  kIndexBackwards,  // used->idx moves back by 1 instead of forward.
};

struct DeviceQueueConfig {
  // Names the queue in errors: "rng backend queue 0".
  std::string name;
  // A power of two, 1 to 32768.
  uint16_t size = 0;
  // Device addresses of the three parts (vhost-user SET_VRING_ADDR).
  uint64_t desc_address = 0;
  uint64_t avail_address = 0;
  uint64_t used_address = 0;
  // Negotiated VIRTIO_F_RING_EVENT_IDX / VIRTIO_F_INDIRECT_DESC.
  bool event_idx = false;
  bool indirect = false;
  // The first available entry to pop (vhost-user SET_VRING_BASE). The used
  // index starts from what the ring's used->idx holds.
  uint16_t avail_base = 0;
};

// A popped chain. Pop reuses the vectors' capacity.
struct DeviceChain {
  uint16_t head = 0;
  std::vector<std::span<std::byte>> readable;
  std::vector<std::span<std::byte>> writable;
  uint64_t readable_bytes = 0;
  uint64_t writable_bytes = 0;
};

class DeviceQueue {
 public:
  // Errors: kInvalidArgument for a bad size, misaligned ring addresses, or
  // rings that `memory` does not map.
  static Result<DeviceQueue> Create(DeviceQueueConfig config, const GuestMemory& memory);

  DeviceQueue(DeviceQueue&&) = default;
  DeviceQueue& operator=(DeviceQueue&&) = default;

  const std::string& name() const { return name_; }
  uint16_t size() const { return ring_.size(); }
  bool broken() const { return broken_; }
  const std::string& broken_reason() const { return broken_reason_; }
  // Chains popped and not yet pushed.
  uint16_t num_popped() const { return num_popped_; }
  // The next available entry Pop reads (vhost-user GET_VRING_BASE's answer).
  uint16_t next_avail_index() const { return last_avail_idx_; }

  // Pops the next available chain into `chain`. Returns false when the driver
  // has made none available.
  // Errors: kDataLoss (errno EIO) when the driver broke the ring (bad index,
  // head or next out of range, a loop, a bad indirect table, a readable
  // buffer after a writable one, an untranslatable address); the queue stays
  // broken.
  Result<bool> Pop(DeviceChain& chain);

  // Returns chain `head` to the driver with `written` bytes written to its
  // writable buffers, applying the pending misbehaviour if any.
  // Errors: kInvalidArgument if `head` was not popped or `written` exceeds
  // the chain's writable bytes (a backend bug); kDataLoss (EIO) when broken.
  Result<void> Push(uint16_t head, uint32_t written);

  // Whether the driver wants a used-buffer notification for the entries
  // pushed since the last call (used_event with RING_EVENT_IDX, else
  // VIRTQ_AVAIL_F_NO_INTERRUPT). Call once per batch of Pushes.
  bool NeedsCall();

  // Kick suppression, the mirror of SplitQueue's callbacks: the pattern is
  //   do { DisableNotifications(); while (Pop(c)) ...; } while (!EnableNotifications());
  // EnableNotifications returns false if chains became available meanwhile.
  void DisableNotifications();
  bool EnableNotifications();

  void set_misbehaviour(Misbehaviour m) { misbehaviour_ = m; }

 private:
  struct Popped {
    bool in_flight = false;
    uint64_t writable_bytes = 0;
    uint16_t second_desc = 0xffff;  // A body descriptor of a direct chain.
  };

  DeviceQueue() = default;
  Result<void> Break(std::string violation);
  Result<void> WalkChain(uint16_t head, DeviceChain& chain);
  uint32_t PickNonHead(uint16_t head) const;
  void WriteUsed(uint16_t slot_idx, uint32_t id, uint32_t len);

  std::string name_;
  const GuestMemory* memory_ = nullptr;
  RingView ring_;
  bool event_idx_ = false;
  bool indirect_ = false;
  std::vector<Popped> popped_;
  uint16_t num_popped_ = 0;
  uint16_t last_avail_idx_ = 0;  // Next available entry to pop.
  uint16_t used_idx_ = 0;        // Our copy of used->idx.
  uint16_t signalled_used_idx_ = 0;
  uint32_t pushed_since_call_ = 0;
  bool notifications_enabled_ = true;
  Misbehaviour misbehaviour_ = Misbehaviour::kNone;
  bool broken_ = false;
  std::string broken_reason_;
};

}  // namespace trellis::virtio
