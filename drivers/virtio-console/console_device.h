// ConsoleDevice: a virtio console (VIRTIO 1.2 section 5.3, one port, no
// MULTIPORT) behind a vhost-user backend as a ConsoleProtocol — the engine
// of the virtio-console driver.
//
// Receive (queue 0): every receive buffer is posted at start. A filled
// buffer holds its input until a Read takes it, and goes back to the device
// only once all of its bytes are read; with no reader, the buffers fill and
// the device has nowhere to put input, so the backend stops taking it.
// Nothing is dropped.
// Transmit (queue 1): a Write is copied into transmit buffers, in order and
// whole (writes are not interleaved), and completes once the device has
// returned every buffer of it. Writes complete in the order they came.
//
// Failure: the backend hanging up, a transmit buffer older than `timeout`
// in the device, or a broken ring fails the pending Read and every Write
// with EIO and calls `on_failure(reason)` once.
// Power: Quiesce stops posting transmit buffers and reports when none is
// in the device; receive buffers stay with the device (input that arrives
// while suspended is kept).
//
// Threading: made, used and destroyed on `dispatcher`.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/driver/console_protocol.h"
#include "virtio/device_driver.h"
#include "virtio/driver/buffer_queue.h"
#include "virtio/driver/node_options.h"
#include "virtio/driver/stall_watchdog.h"
#include "virtio/vhost_user/device.h"

namespace trellis::virtio_console {

class ConsoleDevice final : public ConsoleProtocol, private virtio::VirtioDeviceDriver {
 public:
  using OnFailure = std::function<void(const std::string& reason)>;
  static constexpr uint32_t kBufferSize = 4096;
  static constexpr size_t kReceiveQueue = 0;
  static constexpr size_t kTransmitQueue = 1;

  // Errors: the backend's (kUnavailable when nothing listens, ...).
  static Result<std::unique_ptr<ConsoleDevice>> Connect(Reactor& reactor,
                                                        UnownedDispatcher dispatcher,
                                                        virtio::VirtioNodeOptions options,
                                                        OnFailure on_failure);
  ~ConsoleDevice() override;

  void Write(std::vector<std::byte> data, ConsoleWriteDone done) override;
  void Read(size_t max, ConsoleReadDone done) override;
  void CancelRead() override;

  void Quiesce(std::move_only_function<void()> drained) { tx_->Quiesce(std::move(drained)); }
  void Unquiesce();
  const std::string& name() const { return device_->name(); }

 private:
  struct Input {  // A filled receive buffer and how much of it was read.
    size_t id = 0;
    uint32_t offset = 0;
    uint32_t length = 0;
  };
  struct PendingWrite {
    uint64_t seq = 0;
    std::vector<std::byte> data;
    size_t sent = 0;         // Bytes copied into transmit buffers.
    uint32_t in_device = 0;  // Its buffers not yet returned.
    ConsoleWriteDone done;
  };

  ConsoleDevice(Reactor& reactor, UnownedDispatcher dispatcher, virtio::VirtioNodeOptions options,
                OnFailure on_failure)
      : reactor_(reactor),
        dispatcher_(std::move(dispatcher)),
        options_(std::move(options)),
        on_failure_(std::move(on_failure)) {}
  Result<void> Start();
  void OnReceived(size_t id, Result<uint32_t> length);
  void OnTransmitted(size_t id, Result<uint32_t> length);
  // Hands input to the pending Read, if both exist.
  void ServeRead();
  // Copies waiting writes into free transmit buffers.
  void PumpWrites();
  void Broke(const std::string& reason);

  // ---- virtio::VirtioDeviceDriver ----
  std::optional<uint64_t> NegotiateFeatures(uint64_t) const override { return 0; }
  virtio::DeviceType device_type() const override { return virtio::DeviceType::kConsole; }

  Reactor& reactor_;
  UnownedDispatcher dispatcher_;
  const virtio::VirtioNodeOptions options_;
  const OnFailure on_failure_;
  std::unique_ptr<vhost_user::VhostUserDevice> device_;
  // Both use device_'s memory and queues: destroyed first.
  std::unique_ptr<virtio::BufferQueue> rx_;
  std::unique_ptr<virtio::BufferQueue> tx_;
  std::unique_ptr<virtio::StallWatchdog> watchdog_;
  std::deque<Input> input_;
  std::optional<std::pair<size_t, ConsoleReadDone>> reader_;  // (max, done)
  std::deque<PendingWrite> writes_;
  uint64_t next_seq_ = 0;
  std::vector<uint64_t> tx_owner_;  // By transmit buffer: its write's seq.
  std::optional<std::string> failed_;
};

}  // namespace trellis::virtio_console
