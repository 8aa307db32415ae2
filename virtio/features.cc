#include "virtio/features.h"

#include <array>
#include <utility>

namespace trellis::virtio {

std::string DeviceTypeName(DeviceType type) {
  switch (type) {
    case DeviceType::kInvalid:
      return "virtio-invalid";
    case DeviceType::kNet:
      return "virtio-net";
    case DeviceType::kBlock:
      return "virtio-blk";
    case DeviceType::kConsole:
      return "virtio-console";
    case DeviceType::kRng:
      return "virtio-rng";
    case DeviceType::kBalloon:
      return "virtio-balloon";
    case DeviceType::kScsi:
      return "virtio-scsi";
    case DeviceType::kNineP:
      return "virtio-9p";
    case DeviceType::kGpu:
      return "virtio-gpu";
    case DeviceType::kInput:
      return "virtio-input";
    case DeviceType::kVsock:
      return "virtio-vsock";
    case DeviceType::kCrypto:
      return "virtio-crypto";
    case DeviceType::kIommu:
      return "virtio-iommu";
    case DeviceType::kMem:
      return "virtio-mem";
    case DeviceType::kSound:
      return "virtio-sound";
    case DeviceType::kFs:
      return "virtio-fs";
    case DeviceType::kPmem:
      return "virtio-pmem";
    case DeviceType::kI2c:
      return "virtio-i2c";
    case DeviceType::kGpio:
      return "virtio-gpio";
  }
  return "virtio device type " + std::to_string(static_cast<uint32_t>(type));
}

namespace {

std::string_view TransportFeatureName(unsigned bit) {
  switch (bit) {
    case VIRTIO_F_INDIRECT_DESC:
      return "INDIRECT_DESC";
    case VIRTIO_F_RING_EVENT_IDX:
      return "RING_EVENT_IDX";
    case VIRTIO_F_VERSION_1:
      return "VERSION_1";
    case VIRTIO_F_ACCESS_PLATFORM:
      return "ACCESS_PLATFORM";
    case VIRTIO_F_RING_PACKED:
      return "RING_PACKED";
    case VIRTIO_F_IN_ORDER:
      return "IN_ORDER";
    case VIRTIO_F_ORDER_PLATFORM:
      return "ORDER_PLATFORM";
    case VIRTIO_F_SR_IOV:
      return "SR_IOV";
    case VIRTIO_F_NOTIFICATION_DATA:
      return "NOTIFICATION_DATA";
    case VIRTIO_F_NOTIF_CONFIG_DATA:
      return "NOTIF_CONFIG_DATA";
    case VIRTIO_F_RING_RESET:
      return "RING_RESET";
    default:
      return {};
  }
}

}  // namespace

std::string DescribeFeatures(uint64_t features) {
  if (features == 0) return "none";
  std::string out;
  for (unsigned bit = 0; bit < 64; ++bit) {
    if ((features & kFeatureBit(bit)) == 0) continue;
    if (!out.empty()) out += '|';
    std::string_view name = TransportFeatureName(bit);
    if (name.empty()) {
      out += "bit " + std::to_string(bit);
    } else {
      out += name;
    }
  }
  return out;
}

std::string DescribeStatus(uint8_t status) {
  if (status == 0) return "0";
  static constexpr std::array<std::pair<uint8_t, std::string_view>, 6> kNames = {{
      {VIRTIO_STATUS_ACKNOWLEDGE, "ACKNOWLEDGE"},
      {VIRTIO_STATUS_DRIVER, "DRIVER"},
      {VIRTIO_STATUS_FEATURES_OK, "FEATURES_OK"},
      {VIRTIO_STATUS_DRIVER_OK, "DRIVER_OK"},
      {VIRTIO_STATUS_DEVICE_NEEDS_RESET, "DEVICE_NEEDS_RESET"},
      {VIRTIO_STATUS_FAILED, "FAILED"},
  }};
  std::string out;
  uint8_t rest = status;
  for (const auto& [bit, name] : kNames) {
    if ((status & bit) == 0) continue;
    if (!out.empty()) out += '|';
    out += name;
    rest &= static_cast<uint8_t>(~bit);
  }
  if (rest != 0) {
    if (!out.empty()) out += '|';
    out += "unknown bits " + std::to_string(rest);
  }
  return out;
}

}  // namespace trellis::virtio
