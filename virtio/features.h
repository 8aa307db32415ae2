// VirtIO feature bits, device status bits and device types (VIRTIO 1.2
// sections 2.1, 2.2, 5 and 6), plus helpers that name them in error messages.
//
// Plain constants and pure functions: no state, usable from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace trellis::virtio {

// Reserved (transport) feature bits, section 6. Bits 0-23 and 50-127 belong
// to the device type; bits 24-49 to the transport and the queues.
inline constexpr uint64_t kFeatureBit(unsigned bit) { return uint64_t{1} << bit; }

inline constexpr unsigned VIRTIO_F_INDIRECT_DESC = 28;
inline constexpr unsigned VIRTIO_F_RING_EVENT_IDX = 29;
inline constexpr unsigned VIRTIO_F_VERSION_1 = 32;
inline constexpr unsigned VIRTIO_F_ACCESS_PLATFORM = 33;
inline constexpr unsigned VIRTIO_F_RING_PACKED = 34;
inline constexpr unsigned VIRTIO_F_IN_ORDER = 35;
inline constexpr unsigned VIRTIO_F_ORDER_PLATFORM = 36;
inline constexpr unsigned VIRTIO_F_SR_IOV = 37;
inline constexpr unsigned VIRTIO_F_NOTIFICATION_DATA = 38;
inline constexpr unsigned VIRTIO_F_NOTIF_CONFIG_DATA = 39;
inline constexpr unsigned VIRTIO_F_RING_RESET = 40;

// Bits 24-49: decided by the framework (transport and queue), never by a
// device driver's NegotiateFeatures.
inline constexpr uint64_t kTransportFeatureMask =
    ((uint64_t{1} << 50) - 1) & ~((uint64_t{1} << 24) - 1);
// Bits 0-23 and 50-63: offered to and chosen by the device driver.
inline constexpr uint64_t kDeviceFeatureMask = ~kTransportFeatureMask;

// The transport bits the framework accepts when offered: VERSION_1 (and it
// requires it), and the split-queue extensions SplitQueue implements.
// ACCESS_PLATFORM is not accepted: our queues hand out addresses the device
// uses as-is, without an IOMMU.
inline constexpr uint64_t kSupportedTransportFeatures = kFeatureBit(VIRTIO_F_VERSION_1) |
                                                        kFeatureBit(VIRTIO_F_RING_EVENT_IDX) |
                                                        kFeatureBit(VIRTIO_F_INDIRECT_DESC);

// Device status bits, section 2.1.
inline constexpr uint8_t VIRTIO_STATUS_ACKNOWLEDGE = 1;
inline constexpr uint8_t VIRTIO_STATUS_DRIVER = 2;
inline constexpr uint8_t VIRTIO_STATUS_DRIVER_OK = 4;
inline constexpr uint8_t VIRTIO_STATUS_FEATURES_OK = 8;
inline constexpr uint8_t VIRTIO_STATUS_DEVICE_NEEDS_RESET = 64;
inline constexpr uint8_t VIRTIO_STATUS_FAILED = 128;

// Device IDs, section 5.
enum class DeviceType : uint32_t {
  kInvalid = 0,
  kNet = 1,
  kBlock = 2,
  kConsole = 3,
  kRng = 4,
  kBalloon = 5,
  kScsi = 8,
  kNineP = 9,
  kGpu = 16,
  kInput = 18,
  kVsock = 19,
  kCrypto = 20,
  kIommu = 23,
  kMem = 24,
  kSound = 25,
  kFs = 26,
  kPmem = 27,
  kI2c = 34,
  kGpio = 41,
};

// "virtio-blk", "virtio-rng", ...; "virtio device type N" for others.
std::string DeviceTypeName(DeviceType type);

// "VERSION_1|RING_EVENT_IDX|bit 0|bit 5": the transport bits by name, the
// others by number; "none" for 0. For error messages and logs.
std::string DescribeFeatures(uint64_t features);

// "ACKNOWLEDGE|DRIVER|FEATURES_OK"; "0" for a reset device.
std::string DescribeStatus(uint8_t status);

}  // namespace trellis::virtio
