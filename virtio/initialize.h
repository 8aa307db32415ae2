// InitializeDevice: the VirtIO device initialization sequence (VIRTIO 1.2
// section 3.1.1) over an abstract transport, with feature negotiation split
// between the framework (transport bits) and the device driver (device bits).
//
// Borrows the transport and the driver for the duration of the call; runs on
// the caller's thread (the driver's dispatcher) and may block on the
// transport.
#pragma once

#include <cstdint>

#include "runtime/error.h"
#include "virtio/device_driver.h"
#include "virtio/features.h"
#include "virtio/transport.h"

namespace trellis::virtio {

// Resets the device, sets ACKNOWLEDGE and DRIVER, negotiates features, sets
// FEATURES_OK and checks the device kept it, runs the driver's
// PreDeviceInitialization, sets DRIVER_OK and runs DeviceInitialized.
//
// Features: the driver's NegotiateFeatures sees and chooses only the
// device-type bits; of the transport bits the framework accepts those offered
// that are in `transport_features` (default: VERSION_1, RING_EVENT_IDX,
// INDIRECT_DESC). VERSION_1 is required.
//
// Returns the negotiated features (the caller configures its queues with
// them: RING_EVENT_IDX, INDIRECT_DESC).
//
// Errors (each message names the device type and the reason):
//   kInvalidArgument     the transport's device type is not the driver's.
//   kFailedPrecondition  the device lacks VERSION_1, the driver rejected the
//                        offered features, or the device did not keep
//                        FEATURES_OK.
//   kInternal            the driver accepted bits that were not offered.
//   transport errors     passed on with context.
//   PreDeviceInitialization's error.
// On all of these the device is left with FAILED set (as far as the transport
// still works). DeviceInitialized's error is returned with DRIVER_OK set and
// FAILED not set.
Result<uint64_t> InitializeDevice(VirtioTransport& transport, VirtioDeviceDriver& driver,
                                  uint64_t transport_features = kSupportedTransportFeatures);

}  // namespace trellis::virtio
