// VhostUserDevice: one VirtIO device behind a vhost-user backend, ready for
// a device driver (virtio-blk, virtio-rng, virtio-console).
//
//   auto device = VhostUserDevice::Connect(reactor, dispatcher, options);
//   auto config = device->ReadConfig(0, size);              // size the queues
//   auto features = device->Initialize(driver, plan, on_used, on_failure);
//   ... device->queue(i).Add(...); device->Kick(i);  // on_used(i) completes
//
// Connect: the socket, GET_FEATURES, protocol features (REPLY_ACK and
// CONFIG when offered), SET_OWNER. Initialize: the VIRTIO initialization
// sequence over VhostUserTransport; at DRIVER_OK one memfd of guest memory
// is made (every queue's rings, plus `driver_memory` bytes for the driver's
// buffers), registered with SET_MEM_TABLE, and each queue gets its size,
// base, addresses, a kick and a call eventfd, and is enabled.
//
// Events: each queue's call eventfd is watched on the runtime's reactor, and
// on_used(i) runs on the driver's dispatcher as a system task (completions
// arrive while the driver is suspended, which its suspend hook needs). The
// backend socket is watched too: a hang-up calls on_failure(reason) once;
// the driver then fails its requests (EIO) and may Connect again.
//
// Threading: made, used and destroyed on the driver's dispatcher. The
// destructor stops the rings (GET_VRING_BASE, if the backend is still
// there) and cancels the reactor waits, so no handler runs afterwards.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "runtime/dispatcher.h"
#include "runtime/operation.h"
#include "runtime/reactor.h"
#include "virtio/device_driver.h"
#include "virtio/features.h"
#include "virtio/split_queue.h"
#include "virtio/vhost_user/frontend.h"
#include "virtio/vhost_user/guest_memory.h"

namespace trellis::vhost_user {

struct VhostUserDeviceOptions {
  std::string socket_path;
  virtio::DeviceType type = virtio::DeviceType::kInvalid;
  // Bound on connecting and on each control message.
  std::chrono::milliseconds timeout{5000};
};

// What Initialize sets up.
struct DevicePlan {
  // One entry per queue: its size (a power of two).
  std::vector<uint16_t> queue_sizes;
  // Descriptors per indirect table, used when INDIRECT_DESC is negotiated.
  uint16_t indirect_max = 0;
  // Bytes of guest memory for the driver's own buffers (page-aligned).
  size_t driver_memory = 0;
};

class VhostUserDevice {
 public:
  using OnUsed = std::function<void(size_t queue)>;
  using OnFailure = std::function<void(const std::string& reason)>;

  // Errors: the frontend's (kUnavailable when nothing listens, ...).
  static Result<std::unique_ptr<VhostUserDevice>> Connect(Reactor& reactor,
                                                          UnownedDispatcher dispatcher,
                                                          VhostUserDeviceOptions options);
  ~VhostUserDevice();
  VhostUserDevice(const VhostUserDevice&) = delete;
  VhostUserDevice& operator=(const VhostUserDevice&) = delete;

  // Device configuration space bytes [offset, offset + size).
  // Errors: kUnimplemented if the backend does not offer CONFIG; the
  // frontend's.
  Result<std::vector<std::byte>> ReadConfig(uint32_t offset, uint32_t size);

  // Runs the VIRTIO initialization with `driver` and brings the queues up
  // (see above). Returns the negotiated features.
  Result<uint64_t> Initialize(virtio::VirtioDeviceDriver& driver, const DevicePlan& plan,
                              OnUsed on_used, OnFailure on_failure);

  virtio::SplitQueue& queue(size_t index) { return *queues_[index].ring; }
  // The driver's part of guest memory (DevicePlan::driver_memory bytes).
  virtio::RingMemory driver_memory() const { return driver_memory_; }
  // Notifies the device of new buffers on queue `index` (an eventfd write).
  void Kick(size_t index);
  const std::string& name() const { return name_; }

 private:
  struct Queue {
    std::unique_ptr<virtio::SplitQueue> ring;
    int kick_fd = -1;
    int call_fd = -1;
    Operation wait;  // The reactor's read of call_fd.
  };

  VhostUserDevice(Reactor& reactor, UnownedDispatcher dispatcher, VhostUserDeviceOptions options,
                  VhostUserFrontend frontend);
  Result<void> StartRings(const DevicePlan& plan, uint64_t features);
  void WaitForCall(size_t index);
  void WatchSocket();
  // The backend went away or broke: on_failure, once.
  void Broke(const std::string& reason);

  Reactor& reactor_;
  UnownedDispatcher dispatcher_;
  const VhostUserDeviceOptions options_;
  const std::string name_;  // "virtio-blk at /run/vhost.sock"
  VhostUserFrontend frontend_;
  std::unique_ptr<GuestMemory> memory_;
  virtio::RingMemory driver_memory_;
  std::vector<Queue> queues_;
  Operation hangup_;
  OnUsed on_used_;
  OnFailure on_failure_;
  bool failed_ = false;
  bool rings_start_disabled_ = false;
  // False once destroyed, for handlers already queued when their Operation
  // was dropped (they run anyway; Operation only cancels what is pending).
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace trellis::vhost_user
