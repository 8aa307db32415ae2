// The VIRTIO entropy device's layout (VIRTIO 1.2 section 5.4), shared by the
// driver (virtio-rng) and our device backend. The device has one queue, no
// feature bits of its own and no configuration space: the driver posts
// device-writable buffers and the device fills them with random bytes.
//
// Plain constants: no state, any thread.
#pragma once

#include <cstddef>
#include <cstdint>

namespace trellis::virtio::entropy {

// Device ID (section 5): DeviceType::kRng.
inline constexpr uint32_t kDeviceId = 4;

// Queue indices (section 5.4.2).
inline constexpr size_t kRequestQueue = 0;  // requestq.
inline constexpr size_t kNumQueues = 1;

}  // namespace trellis::virtio::entropy
