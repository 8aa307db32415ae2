#include "virtio/vhost_user/transport.h"

#include "virtio/features.h"
#include "virtio/vhost_user/message.h"

namespace trellis::vhost_user {

namespace {
constexpr uint64_t kProtocolBit = uint64_t{1} << kFeatureProtocolFeatures;
}  // namespace

Result<void> VhostUserTransport::Reset() {
  status_ = 0;
  return Ok();
}

Result<void> VhostUserTransport::WriteStatus(uint8_t status) {
  bool going_live = (status & virtio::VIRTIO_STATUS_DRIVER_OK) &&
                    !(status_ & virtio::VIRTIO_STATUS_DRIVER_OK) &&
                    !(status & virtio::VIRTIO_STATUS_FAILED);
  if (going_live) TRELLIS_TRY(on_driver_ok_(features_), "setting up the rings");
  status_ = status;
  return Ok();
}

Result<uint64_t> VhostUserTransport::ReadDeviceFeatures() {
  TRELLIS_ASSIGN_OR_RETURN(offered_, frontend_.GetFeatures());
  return offered_ & ~kProtocolBit;
}

Result<void> VhostUserTransport::WriteDriverFeatures(uint64_t features) {
  TRELLIS_TRY(frontend_.SetFeatures(features | (offered_ & kProtocolBit)));
  features_ = features;
  return Ok();
}

}  // namespace trellis::vhost_user
