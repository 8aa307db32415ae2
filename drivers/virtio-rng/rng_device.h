// RngDevice: a virtio entropy device (VIRTIO 1.2 section 5.4) behind a
// vhost-user backend as an EntropyProtocol — the engine of the virtio-rng
// driver.
//
// One request queue of device-writable 4 KiB buffers. A Read is served by
// as many buffers as its length needs, in order; a device that fills less
// than a buffer just makes the driver ask again. Reads complete in the
// order they came.
//
// Failure: the backend hanging up, a request older than `timeout` in the
// device, or the device breaking its ring fails every waiting Read with EIO
// and calls `on_failure(reason)` once; Read fails at once afterwards.
// Power: Quiesce stops posting buffers and reports when none is in the
// device; Reads that arrive meanwhile wait for Unquiesce.
//
// Threading: made, used and destroyed on `dispatcher`.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/driver/entropy_protocol.h"
#include "virtio/device_driver.h"
#include "virtio/driver/buffer_queue.h"
#include "virtio/driver/node_options.h"
#include "virtio/driver/stall_watchdog.h"
#include "virtio/vhost_user/device.h"

namespace trellis::virtio_rng {

class RngDevice final : public EntropyProtocol, private virtio::VirtioDeviceDriver {
 public:
  using OnFailure = std::function<void(const std::string& reason)>;
  static constexpr uint32_t kBufferSize = 4096;

  // Errors: the backend's (kUnavailable when nothing listens, ...);
  // kFailedPrecondition for a device that is not an entropy device.
  static Result<std::unique_ptr<RngDevice>> Connect(Reactor& reactor, UnownedDispatcher dispatcher,
                                                    virtio::VirtioNodeOptions options,
                                                    OnFailure on_failure);
  ~RngDevice() override;

  void Read(size_t length, EntropyDone done) override;

  void Quiesce(std::move_only_function<void()> drained);
  void Unquiesce();
  const std::string& name() const { return device_->name(); }

 private:
  struct Pending {
    std::vector<std::byte> bytes;  // Gathered so far.
    size_t length = 0;
    EntropyDone done;
  };

  RngDevice(Reactor& reactor, UnownedDispatcher dispatcher, virtio::VirtioNodeOptions options,
            OnFailure on_failure)
      : reactor_(reactor),
        dispatcher_(std::move(dispatcher)),
        options_(std::move(options)),
        on_failure_(std::move(on_failure)) {}
  Result<void> Start();
  // Posts buffers while the waiting Reads need more than is in the device.
  void Fill();
  void OnBuffer(size_t id, Result<uint32_t> length);
  void Broke(const std::string& reason);

  // ---- virtio::VirtioDeviceDriver ----
  std::optional<uint64_t> NegotiateFeatures(uint64_t) const override { return 0; }
  virtio::DeviceType device_type() const override { return virtio::DeviceType::kRng; }

  Reactor& reactor_;
  UnownedDispatcher dispatcher_;
  const virtio::VirtioNodeOptions options_;
  const OnFailure on_failure_;
  std::unique_ptr<vhost_user::VhostUserDevice> device_;
  std::unique_ptr<virtio::BufferQueue> queue_;  // Uses device_'s queue: destroyed first.
  std::unique_ptr<virtio::StallWatchdog> watchdog_;
  std::deque<Pending> waiting_;
  size_t wanted_ = 0;            // Bytes the waiting Reads still need.
  size_t requested_ = 0;         // Bytes asked of the device and not yet back.
  std::vector<uint32_t> asked_;  // By buffer: bytes it asked for.
  bool quiesced_ = false;
  std::optional<std::string> failed_;
};

}  // namespace trellis::virtio_rng
