// RngDevice: the VIRTIO entropy device (device ID 4, section 5.4) for
// VhostUserBackend. One queue, requestq: each chain's writable buffers are
// filled with getrandom(2) bytes and completed with the bytes written. A
// chain with a readable buffer is a driver bug (the spec allows only
// device-writable ones): it is completed with 0 bytes.
//
// Stateless between chains; runs on the backend's loop thread.
#pragma once

#include "virtio/backend/backend_device.h"

namespace trellis::virtio::backend {

class RngDevice final : public BackendDevice {
 public:
  DeviceType type() const override { return DeviceType::kRng; }
  uint64_t features() const override { return 0; }
  std::vector<std::byte> config() const override { return {}; }
  size_t num_queues() const override;
  void OnChain(DeviceContext& context, size_t queue, const DeviceChain& chain) override;
};

}  // namespace trellis::virtio::backend
