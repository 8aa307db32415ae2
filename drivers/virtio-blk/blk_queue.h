// BlkQueue: the virtio-blk request engine over one split virtqueue — the
// BlockProtocol the virtio-blk driver serves. Turns Block requests into
// virtio-blk requests (header, data, status) in bounce slots of memory the
// device can reach, adds them to the queue, and completes them from the
// used ring.
//
// - At most `slots` requests in the device; later ones wait in FIFO order
//   and start as slots free. Nothing is dropped.
// - Payloads are copied through the slot's bounce buffer (the device only
//   reaches registered memory), so callers' buffers never need to be.
// - FUA writes are a write then a flush; without VIRTIO_BLK_F_FLUSH the
//   device has no volatile cache, and Flush succeeds at once.
// - Discard and write-zeroes go to the device when it offered them, else
//   fail with kUnimplemented.
// - Untrusted device: the queue checks the ring (virtio/split_queue.h);
//   a status byte other than OK/IOERR/UNSUPP is an EIO.
// - Quiesce/Unquiesce for power management, as BlockFile's.
// - Abort fails everything (the backend hung up or stalled).
//
// Threading: every method, and every `done`, runs on the driver's
// dispatcher; `kick` is called there too, once per batch of added requests.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "drivers/virtio-blk/blk_wire.h"
#include "runtime/driver/block_protocol.h"
#include "runtime/error.h"
#include "virtio/split_queue.h"

namespace trellis::virtio_blk {

struct BlkQueueOptions {
  // Names the device in errors: "virtio-blk /run/vhost.sock".
  std::string name;
  BlockInfo info;     // From InfoOf.
  uint64_t features;  // The negotiated device-type features.
  // Requests in the device at once, at least 1.
  uint32_t slots = 32;
};

class BlkQueue final : public BlockProtocol {
 public:
  using Clock = std::chrono::steady_clock;

  // Bytes of device-reachable memory Create needs for `options`.
  static size_t MemoryFor(const BlkQueueOptions& options);

  // `queue` and `memory` (MemoryFor bytes, 4096-aligned) must outlive the
  // BlkQueue; `kick` notifies the device.
  // Errors: kInvalidArgument for bad options or too little memory.
  static Result<std::unique_ptr<BlkQueue>> Create(BlkQueueOptions options,
                                                  virtio::SplitQueue* queue,
                                                  virtio::RingMemory memory,
                                                  std::function<void()> kick);
  ~BlkQueue() override;

  BlockInfo Info() const override { return options_.info; }
  void Submit(const BlockRequest& request, BlockDone done) override;

  // The device used buffers (its call eventfd fired): completes what it
  // finished and starts what waited.
  void OnUsed();
  // Fails every request in the device and every waiting one with an EIO
  // error naming `reason`; Submit fails at once from then on.
  void Abort(const std::string& reason);

  // Stops starting requests; `drained` runs once none is in the device (at
  // once if none is).
  void Quiesce(std::move_only_function<void()> drained);
  // Starts what waited while quiesced, in order.
  void Unquiesce();

  size_t in_flight() const { return slots_.size() - free_.size(); }
  // When the oldest request in the device was added, for a stall watchdog.
  std::optional<Clock::time_point> oldest_in_flight() const;

 private:
  struct Pending {
    BlockRequest request;
    BlockDone done;
  };
  struct Slot {
    std::byte* meta = nullptr;  // Header, discard segment, status.
    uint64_t meta_address = 0;
    std::span<std::byte> bounce;
    uint64_t bounce_address = 0;
    BlockRequest request;
    BlockDone done;
    bool flush_after = false;  // A FUA write's flush is still to come.
    Clock::time_point added;
  };

  BlkQueue(BlkQueueOptions options, virtio::SplitQueue* queue, std::function<void()> kick)
      : options_(std::move(options)), queue_(queue), kick_(std::move(kick)) {}
  // Adds the slot's request (or its FUA flush) to the queue.
  Result<void> Add(size_t slot, RequestType type);
  void Start(size_t slot, BlockRequest request, BlockDone done);
  void Complete(size_t slot, Result<uint32_t> written);
  // Complete for a used entry: `token` is the slot Add gave the queue.
  void CompleteUsed(void* token, Result<uint32_t> written);
  void Finish(size_t slot, Result<void> result);
  void StartQueued();
  void KickIfNeeded();
  std::string Describe(const BlockRequest& request) const;

  const BlkQueueOptions options_;
  virtio::SplitQueue* const queue_;
  const std::function<void()> kick_;
  std::vector<Slot> slots_;
  std::vector<size_t> free_;
  std::deque<Pending> waiting_;
  bool quiesced_ = false;
  bool completing_ = false;  // Inside OnUsed: its end kicks for new requests.
  std::optional<std::string> aborted_;
  std::move_only_function<void()> drained_;
};

}  // namespace trellis::virtio_blk
