// ConsoleDevice: the VIRTIO console device (device ID 3, section 5.3),
// single port, for VhostUserBackend. Layout in virtio/console_layout.h.
//
//   transmitq0  bytes the driver writes are written, in order, to the
//               output fd (blocking: a slow reader slows the device down),
//               and each chain completes with 0 bytes written.
//   receiveq0   bytes read from the input fd are copied into the buffers
//               the driver posted, in order. Input that arrives while no
//               buffer is posted (or no driver is connected) waits in a
//               bounded buffer; when that is full the input fd is no
//               longer polled until the driver takes some (backpressure:
//               nothing is dropped). At end of input (or a read error) the
//               input fd is no longer polled.
//
// Offers VIRTIO_CONSOLE_F_SIZE with cols/rows in the config space; no
// MULTIPORT and no EMERG_WRITE.
//
// Borrows both fds (the caller keeps them open longer than the device).
// Buffered input survives a reconnect; posted rx chains do not (they are
// dropped with OnQueueStopped). Runs on the backend's loop thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

#include "virtio/backend/backend_device.h"

namespace trellis::virtio::backend {

struct ConsoleOptions {
  int input_fd = 0;   // -1: no input.
  int output_fd = 1;  // -1: transmitted bytes are discarded.
  uint16_t cols = 80;
  uint16_t rows = 25;
  // Input bytes held while the driver has no receive buffer posted.
  size_t buffer_limit = 64 * 1024;
};

class ConsoleDevice final : public BackendDevice {
 public:
  explicit ConsoleDevice(ConsoleOptions options) : options_(options) {}

  DeviceType type() const override { return DeviceType::kConsole; }
  uint64_t features() const override;
  std::vector<std::byte> config() const override;
  size_t num_queues() const override;
  void OnChain(DeviceContext& context, size_t queue, const DeviceChain& chain) override;
  void OnQueueStopped(size_t queue) override;
  int input_fd() const override;
  void OnInputReady(DeviceContext& context) override;

  // Input bytes waiting for a receive buffer.
  size_t buffered() const { return buffer_.size() - consumed_; }

 private:
  void Transmit(const DeviceChain& chain);
  // Copies buffered input into posted receive chains and completes them.
  void Deliver(DeviceContext& context);

  const ConsoleOptions options_;
  std::vector<std::byte> buffer_;  // Input; [consumed_, size()) is pending.
  size_t consumed_ = 0;
  std::deque<DeviceChain> rx_chains_;  // Posted receive chains, in order.
  bool input_done_ = false;
  bool output_failed_ = false;
};

}  // namespace trellis::virtio::backend
