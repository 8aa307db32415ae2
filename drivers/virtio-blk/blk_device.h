// BlkDevice: a virtio-blk device behind a vhost-user backend as a
// BlockProtocol — the engine of the virtio-blk driver, usable in-process
// (benchmarks, tests) without a host.
//
// Connect: the vhost-user device (virtio/vhost_user/device.h), its
// configuration, the VIRTIO initialization with this object as the
// VirtioDeviceDriver, and one request queue (BlkQueue). Afterwards:
//   - the backend hanging up, breaking its ring, or holding a request
//     longer than `timeout` (StallWatchdog), fails everything with EIO and
//     calls `on_failure(reason)` once; the owner decides whether to
//     reconnect (a new BlkDevice);
//   - Submit after that fails at once with EIO.
//
// Threading: made, used and destroyed on `dispatcher`; `on_failure` runs
// there too.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "drivers/virtio-blk/blk_queue.h"
#include "runtime/driver/block_protocol.h"
#include "runtime/operation.h"
#include "virtio/device_driver.h"
#include "virtio/driver/stall_watchdog.h"
#include "virtio/vhost_user/device.h"

namespace trellis::virtio_blk {

struct BlkDeviceOptions {
  std::string socket;
  // Descriptors in the request queue: a power of two in 4..1024; a third
  // of them are request slots (three descriptors per request).
  uint16_t queue_size = 128;
  // Bound on each control message, and on a request's time in the device.
  std::chrono::milliseconds timeout{5000};
  // Largest transfer in bytes: a multiple of 4096.
  uint32_t max_transfer = 128 * 1024;
};

class BlkDevice final : public BlockProtocol, private virtio::VirtioDeviceDriver {
 public:
  using OnFailure = std::function<void(const std::string& reason)>;

  // Errors: the backend's (kUnavailable when nothing listens, ...);
  // kFailedPrecondition for a device that lacks VERSION_1 or reports
  // nonsense geometry.
  static Result<std::unique_ptr<BlkDevice>> Connect(Reactor& reactor, UnownedDispatcher dispatcher,
                                                    BlkDeviceOptions options, OnFailure on_failure);
  ~BlkDevice() override;

  BlockInfo Info() const override { return queue_->Info(); }
  void Submit(const BlockRequest& request, BlockDone done) override {
    queue_->Submit(request, std::move(done));
  }

  // The request engine: Quiesce/Unquiesce for power, in_flight.
  BlkQueue& queue() { return *queue_; }
  void Quiesce(std::move_only_function<void()> drained) { queue_->Quiesce(std::move(drained)); }
  void Unquiesce() { queue_->Unquiesce(); }
  const std::string& name() const { return device_->name(); }

 private:
  BlkDevice(Reactor& reactor, UnownedDispatcher dispatcher, BlkDeviceOptions options,
            OnFailure on_failure)
      : reactor_(reactor),
        dispatcher_(std::move(dispatcher)),
        options_(std::move(options)),
        on_failure_(std::move(on_failure)) {}
  Result<void> Start();
  void Broke(const std::string& reason);

  // ---- virtio::VirtioDeviceDriver ----
  std::optional<uint64_t> NegotiateFeatures(uint64_t offered) const override;
  virtio::DeviceType device_type() const override { return virtio::DeviceType::kBlock; }

  Reactor& reactor_;
  UnownedDispatcher dispatcher_;
  const BlkDeviceOptions options_;
  const OnFailure on_failure_;
  std::unique_ptr<vhost_user::VhostUserDevice> device_;
  std::unique_ptr<BlkQueue> queue_;  // Uses device_'s queue: declared after, destroyed first.
  std::unique_ptr<virtio::StallWatchdog> watchdog_;
  bool failed_ = false;
};

}  // namespace trellis::virtio_blk
