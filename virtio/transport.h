// VirtioTransport: how the framework reaches a device's status, feature and
// reset registers, whatever carries them (vhost-user messages later:
// GET_FEATURES/SET_FEATURES, SET_STATUS/GET_STATUS, RESET_DEVICE).
//
// Implementations live in subfolders (virtio/vhost_user/). A transport object
// is owned by the device's driver and used from one thread at a time, the
// driver's dispatcher; it is not thread-safe. Every call may block on the
// transport (a vhost-user round trip) but never on other devices.
#pragma once

#include <cstdint>

#include "runtime/error.h"
#include "virtio/features.h"

namespace trellis::virtio {

class VirtioTransport {
 public:
  virtual ~VirtioTransport() = default;

  // The type of the device behind this transport.
  virtual DeviceType device_type() const = 0;

  // Resets the device (writes status 0) and returns once it reads back 0.
  // Errors: kUnavailable when the device cannot be reached; kDeadlineExceeded
  // if it never finished resetting.
  virtual Result<void> Reset() = 0;

  // The device status register (VIRTIO_STATUS_* bits).
  virtual Result<uint8_t> ReadStatus() = 0;
  virtual Result<void> WriteStatus(uint8_t status) = 0;

  // All 64 feature bits the device offers.
  virtual Result<uint64_t> ReadDeviceFeatures() = 0;
  // The feature bits the driver accepts; a subset of ReadDeviceFeatures().
  virtual Result<void> WriteDriverFeatures(uint64_t features) = 0;
};

}  // namespace trellis::virtio
