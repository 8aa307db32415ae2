// Driver and device on two threads, waking each other only when the
// suppression protocol says so (NeedsNotify -> kick, NeedsCall -> interrupt).
// A lost wakeup shows up as a wait that times out; a missing barrier as a
// TSan report or a wrong completion. The waits are bounded, never sleeps.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <semaphore>
#include <thread>
#include <vector>

#include "virtio/split_queue.h"
#include "virtio/testing/queue_pair.h"

namespace trellis::virtio {
namespace {

using namespace std::chrono_literals;

constexpr uint32_t kRequests = 30'000;
constexpr auto kLostWakeup = 10s;

class ThreadedQueueTest : public ::testing::TestWithParam<bool> {};

TEST_P(ThreadedQueueTest, EveryRequestCompletesWithoutLostWakeups) {
  auto pair = testing::QueuePair::Create({.size = 8, .event_idx = GetParam(), .indirect_max = 4});
  ASSERT_TRUE(pair.has_value()) << pair.error().ToString();
  SplitQueue& driver = (*pair)->driver();
  DeviceQueue& device = (*pair)->device();
  const Buffer out[] = {(*pair)->BufferAt(0, 8), (*pair)->BufferAt(8, 8)};
  const Buffer in[] = {(*pair)->BufferAt(64, 4)};

  std::counting_semaphore<> kick(0);
  std::counting_semaphore<> interrupt(0);
  std::atomic<bool> device_failed = false;

  std::thread device_thread([&] {
    uint32_t served = 0;
    DeviceChain chain;
    while (served < kRequests) {
      bool more = true;
      do {
        device.DisableNotifications();
        for (;;) {
          auto popped = device.Pop(chain);
          if (!popped.has_value()) {
            device_failed = true;
            interrupt.release();
            return;
          }
          if (!*popped) break;
          // Echo the number of readable buffers as the written length.
          if (!device.Push(chain.head, static_cast<uint32_t>(chain.readable.size())).has_value()) {
            device_failed = true;
          }
          ++served;
          if (device.NeedsCall()) interrupt.release();
        }
        more = !device.EnableNotifications();
      } while (more);
      if (served < kRequests && !kick.try_acquire_for(kLostWakeup)) {
        device_failed = true;  // Lost kick.
        interrupt.release();
        return;
      }
    }
  });

  uint32_t added = 0;
  uint32_t completed = 0;
  std::vector<uint8_t> seen(kRequests);
  bool ok = true;
  auto on_used = [&](void* token, Result<uint32_t> len) {
    const auto t = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(token));
    if (!len.has_value() || t >= kRequests || seen[t]++ != 0 || *len != 1 + t % 2) ok = false;
    ++completed;
  };
  while (completed < kRequests && ok && !device_failed) {
    while (added < kRequests) {
      const size_t n_out = 1 + added % 2;
      if (!driver.Add(std::span(out, n_out), in, reinterpret_cast<void*>(uintptr_t{added}))
               .has_value()) {
        break;
      }
      ++added;
    }
    if (driver.NeedsNotify()) kick.release();
    const uint32_t before = completed;
    do {
      driver.DisableCallbacks();
      driver.PollUsed(on_used);
    } while (!driver.EnableCallbacks());
    if (completed != before || completed == kRequests) continue;
    if (!interrupt.try_acquire_for(kLostWakeup)) {
      ADD_FAILURE() << "lost interrupt with " << driver.num_in_flight() << " in flight";
      break;
    }
  }
  kick.release();  // Let a device that waits for more go (only on failure).
  device_thread.join();
  EXPECT_TRUE(ok);
  EXPECT_FALSE(device_failed);
  EXPECT_EQ(completed, kRequests);
  EXPECT_FALSE(driver.broken()) << driver.broken_reason();
}

INSTANTIATE_TEST_SUITE_P(EventIdx, ThreadedQueueTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "EventIdx" : "Flags"; });

}  // namespace
}  // namespace trellis::virtio
