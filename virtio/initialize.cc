#include "virtio/initialize.h"

#include <string>

namespace trellis::virtio {

namespace {

// Everything before DRIVER_OK; any error here makes the caller set FAILED.
Result<uint64_t> InitializeUntilDriverOk(VirtioTransport& transport, VirtioDeviceDriver& driver,
                                         uint64_t transport_features, uint8_t& status) {
  TRELLIS_TRY(transport.Reset(), "resetting");
  status = VIRTIO_STATUS_ACKNOWLEDGE;
  TRELLIS_TRY(transport.WriteStatus(status), "setting ACKNOWLEDGE");
  status |= VIRTIO_STATUS_DRIVER;
  TRELLIS_TRY(transport.WriteStatus(status), "setting DRIVER");

  TRELLIS_ASSIGN_OR_RETURN(uint64_t offered, transport.ReadDeviceFeatures(),
                           "reading device features");
  if ((offered & kFeatureBit(VIRTIO_F_VERSION_1)) == 0) {
    return Fail(ErrorCode::kFailedPrecondition,
                "device does not offer VERSION_1 (legacy devices are not supported); offered: " +
                    DescribeFeatures(offered));
  }
  uint64_t device_offered = offered & kDeviceFeatureMask;
  std::optional<uint64_t> driver_accepted = driver.NegotiateFeatures(device_offered);
  if (!driver_accepted.has_value()) {
    return Fail(ErrorCode::kFailedPrecondition,
                "the driver rejected the offered features: " + DescribeFeatures(device_offered));
  }
  if ((*driver_accepted & ~device_offered) != 0) {
    return Fail(ErrorCode::kInternal, "the driver accepted features that were not offered: " +
                                          DescribeFeatures(*driver_accepted & ~device_offered));
  }
  uint64_t accepted = *driver_accepted | (offered & kTransportFeatureMask & transport_features) |
                      kFeatureBit(VIRTIO_F_VERSION_1);
  TRELLIS_TRY(transport.WriteDriverFeatures(accepted),
              "writing driver features " + DescribeFeatures(accepted));

  status |= VIRTIO_STATUS_FEATURES_OK;
  TRELLIS_TRY(transport.WriteStatus(status), "setting FEATURES_OK");
  TRELLIS_ASSIGN_OR_RETURN(uint8_t read_back, transport.ReadStatus(),
                           "reading status after FEATURES_OK");
  if ((read_back & VIRTIO_STATUS_FEATURES_OK) == 0) {
    return Fail(ErrorCode::kFailedPrecondition, "device did not accept features " +
                                                    DescribeFeatures(accepted) + " (status reads " +
                                                    DescribeStatus(read_back) + ")");
  }
  if ((read_back & (VIRTIO_STATUS_DEVICE_NEEDS_RESET | VIRTIO_STATUS_FAILED)) != 0) {
    return Fail(ErrorCode::kFailedPrecondition,
                "device reports " + DescribeStatus(read_back) + " after FEATURES_OK");
  }

  TRELLIS_TRY(driver.PreDeviceInitialization(), "in PreDeviceInitialization");
  return accepted;
}

}  // namespace

Result<uint64_t> InitializeDevice(VirtioTransport& transport, VirtioDeviceDriver& driver,
                                  uint64_t transport_features) {
  const std::string context = "initializing " + DeviceTypeName(driver.device_type());
  if (transport.device_type() != driver.device_type()) {
    return Fail(ErrorCode::kInvalidArgument,
                context + ": the transport's device is " + DeviceTypeName(transport.device_type()));
  }

  uint8_t status = 0;
  Result<uint64_t> features =
      InitializeUntilDriverOk(transport, driver, transport_features, status);
  if (!features.has_value()) {
    // Best effort: the device may be unreachable, which is the error we report.
    (void)transport.WriteStatus(status | VIRTIO_STATUS_FAILED);
    return Fail(std::move(features).error().WithContext(context));
  }

  if (Result<void> r = transport.WriteStatus(status | VIRTIO_STATUS_DRIVER_OK); !r.has_value()) {
    (void)transport.WriteStatus(status | VIRTIO_STATUS_FAILED);
    return Fail(std::move(r).error().WithContext(context + ": setting DRIVER_OK"));
  }

  // The device is live: an error from here on leaves FAILED unset (seed 004).
  TRELLIS_TRY(driver.DeviceInitialized(), context + ": in DeviceInitialized");
  return *features;
}

}  // namespace trellis::virtio
