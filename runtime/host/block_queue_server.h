// BlockQueueServer: the host's side of one block queue
// (runtime/block_queue_wire.h). It plays the device side of a local
// client's split queue and turns each chain into a BlockProtocol request on
// the serving driver: no gRPC, no protobuf, no copy — the driver reads and
// writes the client's memory in place.
//
// Threading: after Start, everything runs on the serving driver's
// dispatcher — the kick wait (an ordinary task: while the driver is
// suspended requests wait in the ring), the driver's completions
// (BlockProtocol runs `done` there) and Stop's task — so the queue needs no
// lock. The reactor runs both inline when the dispatcher is idle, so a
// request costs no thread hand-off in the host.
//
// Doorbells: while requests are in the driver the host keeps kicks off;
// each completion pushes its used entry and pops what the client made
// available meanwhile, so a deep queue runs without kicks. With nothing in
// the driver it turns kicks back on and looks once more
// (EnableNotifications). Calls follow RING_EVENT_IDX: the client is woken
// only when it asked to be.
//
// Lifetime: shared_ptr. The registry holds it under its token until the
// client's side connection closes, the token is revoked or the driver goes
// (HostRegistry::DetachQueue, RevokeGrant, Remove); each request in the
// driver holds it too, with the region its rings and buffers live in.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/driver/block_protocol.h"
#include "runtime/error.h"
#include "runtime/host/driver_instance.h"
#include "runtime/host/shared_region.h"
#include "runtime/operation.h"
#include "runtime/unique_fd.h"
#include "virtio/backend/device_queue.h"
#include "virtio/backend/guest_memory.h"

namespace trellis::host {

struct BlockQueueConfig {
  std::shared_ptr<DriverInstance> instance;  // The driver serving the node.
  std::string node_path;                     // The node whose BlockProtocol it serves.
  std::shared_ptr<SharedRegion> region;      // Rings and buffers.
  uint64_t ring_offset = 0;
  uint16_t size = 0;
  UniqueFd kick;     // Client → host doorbell (an eventfd).
  UniqueFd call;     // Host → client doorbell (an eventfd).
  UniqueFd notices;  // The client's side connection (a dup), for "stopped".
};

class BlockQueueServer : public std::enable_shared_from_this<BlockQueueServer> {
 public:
  // Checks `config` — a queue size of kMinQueueSize..kMaxQueueSize and a
  // power of two, rings inside the region and 64-byte aligned, both fds
  // eventfds — and sets the queue up (not yet serving).
  // Errors: kInvalidArgument naming what is wrong.
  static Result<std::shared_ptr<BlockQueueServer>> Create(BlockQueueConfig config);

  // Starts serving as queue `id` (named in the stopped notice): arms the
  // kick wait on the driver's dispatcher and looks at the ring once.
  // Errors: kUnavailable if the driver's dispatcher is shut down.
  Result<void> Start(uint64_t id);

  // Any thread; idempotent. No chain is popped after the stop task runs;
  // requests in the driver still complete into the ring. With a reason, the
  // client is told on its side connection: "stopped <id> <code> <reason>".
  void Stop(std::optional<Error> reason);

  // For tests: chains answered so far.
  uint64_t completed() const { return completed_.load(std::memory_order_relaxed); }

 private:
  explicit BlockQueueServer(BlockQueueConfig config, virtio::LinearGuestMemory memory)
      : config_(std::move(config)), memory_(memory) {}

  void ArmKick();
  void OnKick();
  // Pops and starts every available chain (see the header comment).
  void Drain();
  void StartChain(BlockProtocol* protocol, const virtio::DeviceChain& chain);
  // Writes the status (if the chain has a status buffer), pushes, and
  // starts what the client made available meanwhile.
  void Complete(uint16_t head, const Result<void>& result, uint32_t data_written);
  void SignalIfNeeded();
  // The client broke the ring: stop, and say why.
  void Broke();
  void Notify(const Error& reason);

  BlockQueueConfig config_;
  const virtio::LinearGuestMemory memory_;
  uint64_t id_ = 0;
  std::atomic<bool> notified_{false};
  std::atomic<uint64_t> completed_{0};

  // Touched only on the driver's dispatcher.
  std::optional<virtio::DeviceQueue> queue_;
  virtio::DeviceChain chain_;
  // Per head: the status buffer of the chain in the driver (empty if none).
  std::vector<std::byte*> status_;
  Operation kick_wait_;
  uint32_t in_driver_ = 0;
  bool draining_ = false;
  bool stopped_ = false;
};

}  // namespace trellis::host
