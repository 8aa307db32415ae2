// VhostUserTransport: VirtioTransport (virtio/transport.h) over a vhost-user
// connection, so InitializeDevice runs the VIRTIO initialization sequence
// against a vhost-user backend.
//
// vhost-user (without the STATUS protocol feature, which QEMU 7.2's
// backends lack) has no device status register, so the status lives here
// and each step maps onto the messages that mean it:
//   Reset          a fresh connection is a reset device: status 0.
//   features       GET_FEATURES / SET_FEATURES. VHOST_USER_F_PROTOCOL_FEATURES
//                  (bit 30) is vhost-user's, not the device's: hidden from
//                  negotiation, and set again in SET_FEATURES when offered.
//   FEATURES_OK    kept once SET_FEATURES was acknowledged (REPLY_ACK).
//   DRIVER_OK      the rings go live: `on_driver_ok` (the device sets up
//                  memory and queues and enables them); its error is the
//                  write's, and InitializeDevice then sets FAILED.
//
// Borrows the frontend; used from the driver's dispatcher during Initialize.
#pragma once

#include <cstdint>
#include <functional>

#include "virtio/transport.h"
#include "virtio/vhost_user/frontend.h"

namespace trellis::vhost_user {

class VhostUserTransport final : public virtio::VirtioTransport {
 public:
  using OnDriverOk = std::function<Result<void>(uint64_t features)>;

  VhostUserTransport(VhostUserFrontend& frontend, virtio::DeviceType type, OnDriverOk on_driver_ok)
      : frontend_(frontend), type_(type), on_driver_ok_(std::move(on_driver_ok)) {}

  virtio::DeviceType device_type() const override { return type_; }
  Result<void> Reset() override;
  Result<uint8_t> ReadStatus() override { return status_; }
  Result<void> WriteStatus(uint8_t status) override;
  Result<uint64_t> ReadDeviceFeatures() override;
  Result<void> WriteDriverFeatures(uint64_t features) override;

 private:
  VhostUserFrontend& frontend_;
  const virtio::DeviceType type_;
  const OnDriverOk on_driver_ok_;
  uint8_t status_ = 0;
  uint64_t offered_ = 0;  // All bits GET_FEATURES returned, bit 30 included.
  uint64_t features_ = 0;
};

}  // namespace trellis::vhost_user
