// VirtioDeviceDriver: what a VirtIO device driver (virtio-blk, virtio-rng,
// ...) tells the framework during device initialization, after Tock's
// VirtIODeviceDriver (seed 004).
//
// The driver object is owned by whoever created it (the driver's start hook);
// InitializeDevice (virtio/initialize.h) borrows it for the duration of the
// call and calls it on the caller's thread, normally the driver's dispatcher.
#pragma once

#include <cstdint>
#include <optional>

#include "runtime/error.h"
#include "virtio/features.h"

namespace trellis::virtio {

class VirtioDeviceDriver {
 public:
  virtual ~VirtioDeviceDriver() = default;

  // Chooses the device-type feature bits to accept from `offered`, which
  // holds only device-type bits (0-23 and 50-63; the transport bits are the
  // framework's business). Returns nullopt when the device lacks a feature
  // the driver cannot do without. Must be pure: it may be called before the
  // device is initialized and more than once, and drivers may call it again
  // later to learn what was negotiated. Bits not in `offered` are an error.
  virtual std::optional<uint64_t> NegotiateFeatures(uint64_t offered) const = 0;

  // The device type this driver drives. Must be pure and constant.
  virtual DeviceType device_type() const = 0;

  // Runs after FEATURES_OK was accepted and before DRIVER_OK: device-specific
  // setup (reading configuration space, populating queues). An error makes
  // InitializeDevice set FAILED and return that error.
  virtual Result<void> PreDeviceInitialization() { return Ok(); }

  // Runs after DRIVER_OK. An error is returned from InitializeDevice but does
  // NOT set FAILED: the device is live, and the driver is responsible for
  // tearing it down (reset) if it cannot use it.
  virtual Result<void> DeviceInitialized() { return Ok(); }
};

}  // namespace trellis::virtio
