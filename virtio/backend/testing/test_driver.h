// TestDriver: the driver side for backend tests, built from the real pieces —
// VhostUserFrontend for the control path, a memfd GuestMemory, and one
// SplitQueue per queue with kick/call eventfds — without a reactor: the test
// thread kicks and waits on the call eventfds itself (poll with deadlines).
//
//   auto driver = TestDriver::Connect({.socket_path = path, .num_queues = 1});
//   auto buf = driver->Allocate(4096);
//   driver->queue(0).Add({}, {{driver->Address(buf), 4096}}, token);
//   driver->Kick(0);
//   auto done = driver->WaitCompletions(0, 1, 5s);
//
// Connect follows QEMU's order (frontend.h): features, protocol features
// (REPLY_ACK and CONFIG), owner, SET_FEATURES, memory table, then per queue
// num, base, addresses, kick, call, and enable.
//
// Owns the frontend (the connection), the memory and the fds; destroying it
// closes the connection. One thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "runtime/error.h"
#include "virtio/split_queue.h"
#include "virtio/vhost_user/frontend.h"
#include "virtio/vhost_user/guest_memory.h"

namespace trellis::virtio::backend::testing {

struct TestDriverOptions {
  std::string socket_path;
  size_t num_queues = 1;
  uint16_t queue_size = 16;
  bool event_idx = true;
  // Descriptors per indirect table; 0: INDIRECT_DESC not negotiated.
  uint16_t indirect_max = 0;
  size_t data_bytes = 1 << 20;
  std::chrono::milliseconds timeout{5000};
};

struct TestCompletion {
  void* token = nullptr;
  Result<uint32_t> written;
};

class TestDriver {
 public:
  static Result<std::unique_ptr<TestDriver>> Connect(TestDriverOptions options);
  ~TestDriver();
  TestDriver(const TestDriver&) = delete;
  TestDriver& operator=(const TestDriver&) = delete;

  vhost_user::VhostUserFrontend& frontend() { return *frontend_; }
  SplitQueue& queue(size_t index) { return *queues_[index].ring; }
  uint64_t features() const { return features_; }

  // Zeroed bytes from the data area. Errors: kResourceExhausted when full.
  Result<std::span<std::byte>> Allocate(size_t size);
  static uint64_t Address(std::span<const std::byte> buffer) {
    return vhost_user::GuestMemory::DeviceAddress(buffer.data());
  }

  // The kick eventfd of queue `index` (to hand it to the backend again).
  int kick_fd(size_t index) const { return queues_[index].kick; }
  // Kicks queue `index` if the device asked for it (NeedsNotify).
  void Kick(size_t index);
  // Collects completions of queue `index` until `count` have arrived (EIO
  // ones of a broken queue included) or `timeout` passed; returns what came.
  std::vector<TestCompletion> WaitCompletions(size_t index, size_t count,
                                              std::chrono::milliseconds timeout);
  // Polls queue `index` once without waiting.
  std::vector<TestCompletion> PollCompletions(size_t index);

 private:
  struct Queue {
    std::unique_ptr<SplitQueue> ring;
    int kick = -1;
    int call = -1;
  };
  TestDriver() = default;
  Result<void> Setup(const TestDriverOptions& options);

  std::optional<vhost_user::VhostUserFrontend> frontend_;
  std::optional<vhost_user::GuestMemory> memory_;
  std::vector<Queue> queues_;
  uint64_t features_ = 0;
};

}  // namespace trellis::virtio::backend::testing
