// The VIRTIO console device's layout (VIRTIO 1.2 section 5.3), shared by the
// driver (virtio-console) and our device backend: queue indices, feature
// bits and the configuration space. Single-port only: no MULTIPORT, so there
// are exactly two queues and no control queues.
//
// Plain constants and a plain struct: no state, any thread. Every field is
// little-endian on the wire, which is native on the hosts we support.
#pragma once

#include <cstddef>
#include <cstdint>

namespace trellis::virtio::console {

// Device ID (section 5): DeviceType::kConsole.
inline constexpr uint32_t kDeviceId = 3;

// Queue indices (section 5.3.2).
inline constexpr size_t kReceiveQueue = 0;   // receiveq0: device → driver.
inline constexpr size_t kTransmitQueue = 1;  // transmitq0: driver → device.
inline constexpr size_t kNumQueues = 2;      // Without MULTIPORT.

// Feature bits (section 5.3.3).
inline constexpr unsigned VIRTIO_CONSOLE_F_SIZE = 0;         // cols/rows are valid.
inline constexpr unsigned VIRTIO_CONSOLE_F_MULTIPORT = 1;    // Not offered by our backend.
inline constexpr unsigned VIRTIO_CONSOLE_F_EMERG_WRITE = 2;  // Not offered by our backend.

// Configuration space (section 5.3.4). cols/rows are valid with
// VIRTIO_CONSOLE_F_SIZE, max_nr_ports with MULTIPORT, emerg_wr with
// EMERG_WRITE.
struct Config {
  uint16_t cols;
  uint16_t rows;
  uint32_t max_nr_ports;
  uint32_t emerg_wr;
};
static_assert(sizeof(Config) == 12);
inline constexpr size_t kConfigColsOffset = 0;
inline constexpr size_t kConfigRowsOffset = 2;

}  // namespace trellis::virtio::console
