// LinkedDevice<Device>: the device a vhost-user driver has now, kept across
// backend failures — a BackendLink drops it when the backend is lost and
// connects a new one with backoff — and quiesced for suspend and stop. The
// lifecycle every virtio driver shares (virtio-blk, -rng, -console):
//
//   LinkedDevice<RngDevice> rng_{reactor, dispatcher, [this](auto on_lost) {
//     return RngDevice::Connect(..., std::move(on_lost));
//   }};
//   Start: rng_.Start()   Stop: rng_.Stop(done)   Suspend: rng_.Suspend(done)
//   Resume: rng_.Resume() calls: if (RngDevice* d = rng_.get()) ... else UNAVAILABLE
//
// Device needs Quiesce(std::move_only_function<void()> drained) (stop
// starting requests; `drained` once none is in the device) and Unquiesce().
// A device connected while suspended starts quiesced.
//
// Threading: made, used and destroyed on the driver's dispatcher.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "virtio/driver/backend_link.h"

namespace trellis::virtio {

template <typename Device>
class LinkedDevice {
 public:
  using OnLost = std::function<void(const std::string& reason)>;
  // Makes a device; it calls `on_lost` once when its backend is gone.
  using Connect = std::function<Result<std::unique_ptr<Device>>(OnLost on_lost)>;

  LinkedDevice(Reactor& reactor, UnownedDispatcher dispatcher, Connect connect)
      : connect_(std::move(connect)),
        link_(
            reactor, std::move(dispatcher), [this] { return ConnectNow(); },
            [this] { device_.reset(); }) {}

  // The first connection: its error fails the driver's Start.
  Result<void> Start() { return link_.Connect(); }

  // No more reconnects; `done` once the device (if any) is drained and gone.
  void Stop(std::move_only_function<void()> done) {
    link_.Stop();
    if (!device_) {
      done();
      return;
    }
    device_->Quiesce([this, done = std::move(done)]() mutable {
      device_.reset();
      done();
    });
  }

  // `done` once the device (if any) has nothing in flight.
  void Suspend(std::move_only_function<void()> done) {
    suspended_ = true;
    if (!device_) {
      done();
      return;
    }
    device_->Quiesce(std::move(done));
  }
  void Resume() {
    suspended_ = false;
    if (device_) device_->Unquiesce();
  }

  // The device, or null while the backend is away.
  Device* get() const { return device_.get(); }

 private:
  Result<void> ConnectNow() {
    TRELLIS_ASSIGN_OR_RETURN(std::unique_ptr<Device> device,
                             connect_([this](const std::string&) { link_.Lost(); }));
    if (suspended_) device->Quiesce([] {});
    device_ = std::move(device);
    return Ok();
  }

  const Connect connect_;
  std::unique_ptr<Device> device_;
  BackendLink link_;  // Declared after device_: destroyed first, so its tasks never see it gone.
  bool suspended_ = false;
};

}  // namespace trellis::virtio
