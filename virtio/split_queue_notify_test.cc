// Kick (available-buffer notification) and interrupt (used-buffer
// notification) suppression, with and without VIRTIO_F_RING_EVENT_IDX, with
// our device side on the other end of the ring.
#include <gtest/gtest.h>

#include "virtio/split_queue.h"
#include "virtio/testing/queue_pair.h"

namespace trellis::virtio {
namespace {

using testing::QueuePair;

class NotifyTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    auto pair = QueuePair::Create({.size = 8, .event_idx = GetParam()});
    ASSERT_TRUE(pair.has_value()) << pair.error().ToString();
    pair_ = std::move(pair).value();
  }
  SplitQueue& driver() { return pair_->driver(); }
  DeviceQueue& device() { return pair_->device(); }
  void Add() {
    const Buffer in[] = {pair_->BufferAt(0, 8)};
    ASSERT_TRUE(driver().Add({}, in, nullptr).has_value());
  }
  // Pops and completes everything available.
  void CompleteAll() {
    DeviceChain chain;
    while (device().Pop(chain).value()) {
      ASSERT_TRUE(device().Push(chain.head, 0).has_value());
    }
  }
  size_t Poll() {
    return driver().PollUsed([](void*, Result<uint32_t> r) { EXPECT_TRUE(r.has_value()); });
  }

  std::unique_ptr<QueuePair> pair_;
};

TEST_P(NotifyTest, NothingAddedNeedsNoKick) { EXPECT_FALSE(driver().NeedsNotify()); }

TEST_P(NotifyTest, KickNeededWhileDeviceWantsNotifications) {
  Add();
  EXPECT_TRUE(driver().NeedsNotify());
}

TEST_P(NotifyTest, KickSuppressedWhileDeviceDisabledNotifications) {
  device().DisableNotifications();
  Add();
  Add();
  EXPECT_FALSE(driver().NeedsNotify());
  // Re-enabling reports the requests that arrived meanwhile.
  EXPECT_FALSE(device().EnableNotifications());
  CompleteAll();
  EXPECT_TRUE(device().EnableNotifications());
  Add();
  EXPECT_TRUE(driver().NeedsNotify());
}

TEST_P(NotifyTest, InterruptSuppressedWhileDriverDisabledCallbacks) {
  Add();
  driver().DisableCallbacks();
  CompleteAll();
  EXPECT_FALSE(device().NeedsCall());
  // The entry that arrived while disabled is reported, not slept on.
  EXPECT_FALSE(driver().EnableCallbacks());
  EXPECT_EQ(Poll(), 1u);
  EXPECT_TRUE(driver().EnableCallbacks());
  Add();
  CompleteAll();
  EXPECT_TRUE(device().NeedsCall());
}

TEST_P(NotifyTest, InterruptNeededForEachPolledCompletionWhileEnabled) {
  for (int i = 0; i < 20; ++i) {
    Add();
    CompleteAll();
    EXPECT_TRUE(device().NeedsCall()) << "round " << i;
    EXPECT_EQ(Poll(), 1u);
  }
}

INSTANTIATE_TEST_SUITE_P(EventIdx, NotifyTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "EventIdx" : "Flags"; });

// RING_EVENT_IDX specifics: one kick per batch the device has not yet seen,
// one interrupt until the driver catches up.
TEST(EventIdxTest, KickOnlyWhenAvailIndexCrossesAvailEvent) {
  auto pair = QueuePair::Create({.size = 8, .event_idx = true}).value();
  const Buffer in[] = {pair->BufferAt(0, 8)};
  ASSERT_TRUE(pair->driver().Add({}, in, nullptr).has_value());
  EXPECT_TRUE(pair->driver().NeedsNotify());  // avail_event 0: crossed by 0 -> 1.
  ASSERT_TRUE(pair->driver().Add({}, in, nullptr).has_value());
  EXPECT_FALSE(pair->driver().NeedsNotify());  // The device has not caught up yet.
  DeviceChain chain;
  ASSERT_TRUE(pair->device().Pop(chain).value());
  ASSERT_TRUE(pair->device().Pop(chain).value());  // avail_event is now 2.
  ASSERT_TRUE(pair->driver().Add({}, in, nullptr).has_value());
  ASSERT_TRUE(pair->driver().Add({}, in, nullptr).has_value());
  EXPECT_TRUE(pair->driver().NeedsNotify());  // 2 -> 4 crosses 2.
}

TEST(EventIdxTest, OneInterruptUntilTheDriverPolls) {
  auto pair = QueuePair::Create({.size = 8, .event_idx = true}).value();
  const Buffer in[] = {pair->BufferAt(0, 8)};
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(pair->driver().Add({}, in, nullptr).has_value());
  DeviceChain chain;
  ASSERT_TRUE(pair->device().Pop(chain).value());
  ASSERT_TRUE(pair->device().Push(chain.head, 0).has_value());
  EXPECT_TRUE(pair->device().NeedsCall());  // used_event 0: crossed by 0 -> 1.
  ASSERT_TRUE(pair->device().Pop(chain).value());
  ASSERT_TRUE(pair->device().Push(chain.head, 0).has_value());
  EXPECT_FALSE(pair->device().NeedsCall());  // The driver has not polled yet.
  EXPECT_EQ(pair->driver().PollUsed([](void*, Result<uint32_t>) {}), 2u);
  ASSERT_TRUE(pair->device().Pop(chain).value());
  ASSERT_TRUE(pair->device().Push(chain.head, 0).has_value());
  EXPECT_TRUE(pair->device().NeedsCall());  // PollUsed re-armed used_event.
}

}  // namespace
}  // namespace trellis::virtio
