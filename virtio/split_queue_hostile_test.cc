// The device is untrusted: every kind of malformed used ring breaks the queue,
// fails every in-flight request with EIO, refuses later Adds, and never makes
// the queue touch the ring again. Runs under ASan in CI, which would catch an
// out-of-bounds access.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <ostream>
#include <string>

#include "virtio/backend/device_queue.h"
#include "virtio/split_queue.h"
#include "virtio/testing/queue_pair.h"

namespace trellis::virtio {
namespace {

using testing::QueuePair;

struct HostileCase {
  Misbehaviour misbehaviour;
  std::string_view reason;  // Expected in broken_reason().
};
void PrintTo(const HostileCase& c, std::ostream* os) {
  *os << "misbehaviour " << static_cast<int>(c.misbehaviour) << " (" << c.reason << ")";
}

class HostileDeviceTest : public ::testing::TestWithParam<std::tuple<HostileCase, bool>> {};

TEST_P(HostileDeviceTest, BreaksQueueAndFailsEveryInFlightRequestWithEio) {
  const auto [hostile, event_idx] = GetParam();
  auto pair = QueuePair::Create({.size = 8, .event_idx = event_idx}).value();
  SplitQueue& driver = pair->driver();
  DeviceQueue& device = pair->device();

  // Requests 1-4, each a direct chain of one readable and one writable buffer.
  const Buffer out[] = {pair->BufferAt(0, 8)};
  const Buffer in[] = {pair->BufferAt(64, 16)};
  for (uintptr_t t = 1; t <= 4; ++t) {
    ASSERT_TRUE(driver.Add(out, in, reinterpret_cast<void*>(t)).has_value());
  }
  std::vector<uint16_t> heads;
  DeviceChain chain;
  while (device.Pop(chain).value()) heads.push_back(chain.head);
  ASSERT_EQ(heads.size(), 4u);

  std::map<uintptr_t, Result<uint32_t>> results;
  auto record = [&](void* token, Result<uint32_t> len) {
    const uintptr_t t = reinterpret_cast<uintptr_t>(token);
    EXPECT_FALSE(results.contains(t)) << "request " << t << " completed twice";
    results.emplace(t, std::move(len));
    // A callback that resubmits during the failure sees the queue broken.
    if (!results.at(t).has_value()) {
      auto again = driver.Add(out, in, nullptr);
      EXPECT_FALSE(again.has_value());
    }
  };

  // One honest completion first, so the indexes are not at their start.
  ASSERT_TRUE(device.Push(heads[3], 5).has_value());
  EXPECT_EQ(driver.PollUsed(record), 1u);
  ASSERT_TRUE(results.at(4).has_value());

  device.set_misbehaviour(hostile.misbehaviour);
  ASSERT_TRUE(device.Push(heads[0], 3).has_value());
  driver.PollUsed(record);

  ASSERT_TRUE(driver.broken());
  EXPECT_NE(driver.broken_reason().find("test queue"), std::string::npos);
  EXPECT_NE(driver.broken_reason().find(hostile.reason), std::string::npos)
      << driver.broken_reason();
  ASSERT_EQ(results.size(), 4u);
  for (uintptr_t t = 1; t <= 3; ++t) {
    const Result<uint32_t>& r = results.at(t);
    // A duplicate's first copy is an honest completion of request 1.
    if (hostile.misbehaviour == Misbehaviour::kDuplicate && t == 1) {
      ASSERT_TRUE(r.has_value()) << r.error().ToString();
      EXPECT_EQ(*r, 3u);
      continue;
    }
    ASSERT_FALSE(r.has_value()) << "request " << t;
    EXPECT_EQ(r.error().errno_value(), EIO);
    EXPECT_EQ(r.error().code(), ErrorCode::kDataLoss);
    EXPECT_NE(r.error().message().find(hostile.reason), std::string::npos) << r.error().message();
  }
  EXPECT_EQ(driver.num_in_flight(), 0);

  auto later = driver.Add(out, in, nullptr);
  ASSERT_FALSE(later.has_value());
  EXPECT_EQ(later.error().errno_value(), EIO);

  // From now on the queue must not touch the ring: any access would fault.
  pair->SetAccessible(false);
  EXPECT_EQ(driver.PollUsed(record), 0u);
  EXPECT_FALSE(driver.NeedsNotify());
  driver.DisableCallbacks();
  EXPECT_TRUE(driver.EnableCallbacks());
  EXPECT_FALSE(driver.Add(out, in, nullptr).has_value());
  pair->SetAccessible(true);
}

std::string HostileCaseName(const ::testing::TestParamInfo<std::tuple<HostileCase, bool>>& info) {
  static constexpr std::string_view kNames[] = {"None",          "IdOutOfRange",   "IdNotHead",
                                                "Duplicate",     "LengthTooLarge", "IndexJump",
                                                "IndexBackwards"};
  return std::string(kNames[static_cast<int>(std::get<0>(info.param).misbehaviour)]) +
         (std::get<1>(info.param) ? "EventIdx" : "Flags");
}

INSTANTIATE_TEST_SUITE_P(
    Misbehaviours, HostileDeviceTest,
    ::testing::Combine(
        ::testing::Values(HostileCase{Misbehaviour::kIdOutOfRange, "out of range"},
                          HostileCase{Misbehaviour::kIdNotHead, "not the head"},
                          HostileCase{Misbehaviour::kDuplicate, "duplicate completion"},
                          HostileCase{Misbehaviour::kLengthTooLarge, "exceeds the chain"},
                          HostileCase{Misbehaviour::kIndexJump, "more than the queue size"},
                          HostileCase{Misbehaviour::kIndexBackwards, "more than the queue size"}),
        ::testing::Bool()),
    HostileCaseName);

// The id-not-head case also when the chain is a single descriptor: the device
// names a free descriptor instead of a body one.
TEST(HostileDeviceTest, IdOfAFreeDescriptorBreaksQueue) {
  auto pair = QueuePair::Create({.size = 8}).value();
  const Buffer in[] = {pair->BufferAt(0, 8)};
  ASSERT_TRUE(pair->driver().Add({}, in, nullptr).has_value());
  DeviceChain chain;
  ASSERT_TRUE(pair->device().Pop(chain).value());
  pair->device().set_misbehaviour(Misbehaviour::kIdNotHead);
  ASSERT_TRUE(pair->device().Push(chain.head, 0).has_value());
  size_t failures = 0;
  pair->driver().PollUsed([&](void*, Result<uint32_t> r) {
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().errno_value(), EIO);
    ++failures;
  });
  EXPECT_EQ(failures, 1u);
  EXPECT_NE(pair->driver().broken_reason().find("not the head"), std::string::npos)
      << pair->driver().broken_reason();
}

// Going backwards is caught relative to the last index seen, also across the
// 16-bit wrap.
TEST(HostileDeviceTest, IndexBackwardsAfterWrapBreaksQueue) {
  auto pair = QueuePair::Create({.size = 8}).value();
  const Buffer in[] = {pair->BufferAt(0, 8)};
  DeviceChain chain;
  for (int i = 0; i < 65'540; ++i) {
    ASSERT_TRUE(pair->driver().Add({}, in, nullptr).has_value());
    ASSERT_TRUE(pair->device().Pop(chain).value());
    ASSERT_TRUE(pair->device().Push(chain.head, 1).has_value());
    ASSERT_EQ(pair->driver().PollUsed([](void*, Result<uint32_t> r) { ASSERT_TRUE(r); }), 1u);
  }
  ASSERT_TRUE(pair->driver().Add({}, in, nullptr).has_value());
  ASSERT_TRUE(pair->device().Pop(chain).value());
  pair->device().set_misbehaviour(Misbehaviour::kIndexBackwards);
  ASSERT_TRUE(pair->device().Push(chain.head, 1).has_value());
  size_t failures = 0;
  pair->driver().PollUsed([&](void*, Result<uint32_t> r) {
    EXPECT_FALSE(r.has_value());
    ++failures;
  });
  EXPECT_EQ(failures, 1u);
  EXPECT_TRUE(pair->driver().broken());
}

// A used ring full of garbage written behind the queue's back.
TEST(HostileDeviceTest, GarbageUsedRingBreaksQueueWithoutOutOfBoundsAccess) {
  for (uint16_t garbage_idx :
       {uint16_t{1}, uint16_t{8}, uint16_t{9}, uint16_t{0x8000}, uint16_t{0xffff}}) {
    auto pair = QueuePair::Create({.size = 8}).value();
    const Buffer in[] = {pair->BufferAt(0, 8)};
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(pair->driver().Add({}, in, nullptr).has_value());
    // Overwrite the whole used ring with 0xff bytes but a chosen index.
    auto* used = reinterpret_cast<std::byte*>(pair->driver().used_device_address());
    std::memset(used, 0xff, UsedRingBytes(8));
    std::memcpy(used + 2, &garbage_idx, 2);
    size_t failures = 0;
    pair->driver().PollUsed([&](void*, Result<uint32_t> r) {
      EXPECT_FALSE(r.has_value());
      ++failures;
    });
    EXPECT_TRUE(pair->driver().broken()) << garbage_idx;
    EXPECT_EQ(failures, 3u) << garbage_idx;
  }
}

// The transport breaks the queue (device reset, backend gone): the next poll
// fails what is in flight without reading the ring.
TEST(SplitQueueBreakTest, MarkBrokenFailsInFlightAtNextPollWithoutTouchingRing) {
  auto pair = QueuePair::Create({.size = 8}).value();
  const Buffer in[] = {pair->BufferAt(0, 8)};
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(pair->driver().Add({}, in, nullptr).has_value());
  pair->driver().MarkBroken("backend disconnected");
  EXPECT_EQ(pair->driver().broken_reason(), "test queue: backend disconnected");
  EXPECT_FALSE(pair->driver().EnableCallbacks());  // Failures to deliver.
  pair->SetAccessible(false);
  size_t failures = 0;
  EXPECT_EQ(pair->driver().PollUsed([&](void*, Result<uint32_t> r) {
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().message().find("backend disconnected"), std::string::npos);
    ++failures;
  }),
            5u);
  EXPECT_EQ(failures, 5u);
  EXPECT_EQ(pair->driver().PollUsed([](void*, Result<uint32_t>) { FAIL(); }), 0u);
  pair->SetAccessible(true);
}

}  // namespace
}  // namespace trellis::virtio
