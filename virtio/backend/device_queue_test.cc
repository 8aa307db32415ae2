// The device side treats the driver as untrusted: malformed available rings
// and descriptor chains break the queue with EIO, never crash or spin.
#include "virtio/backend/device_queue.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>

#include "virtio/ring_layout.h"

namespace trellis::virtio {
namespace {

constexpr uint16_t kSize = 8;
constexpr size_t kDescOffset = 0;
constexpr size_t kAvailOffset = 4096;
constexpr size_t kUsedOffset = 8192;
constexpr size_t kDataOffset = 16384;
constexpr size_t kBytes = 65536;

// A hand-written driver side: tests write descriptors and the available ring
// directly, including the malformed ones no SplitQueue would produce.
class DeviceQueueTest : public ::testing::Test {
 public:
  void SetUp() override {
    base_ = static_cast<std::byte*>(std::aligned_alloc(4096, kBytes));
    std::memset(base_, 0, kBytes);
    memory_ = std::make_unique<LinearGuestMemory>(std::span(base_, kBytes), Addr(0));
    ring_ = RingView(kSize, base_ + kDescOffset, base_ + kAvailOffset, base_ + kUsedOffset);
  }
  void TearDown() override { std::free(base_); }

  uint64_t Addr(size_t offset) const { return reinterpret_cast<uint64_t>(base_) + offset; }

  DeviceQueue MakeQueue(bool indirect = false) {
    auto q = DeviceQueue::Create({.name = "dev",
                                  .size = kSize,
                                  .desc_address = Addr(kDescOffset),
                                  .avail_address = Addr(kAvailOffset),
                                  .used_address = Addr(kUsedOffset),
                                  .indirect = indirect},
                                 *memory_);
    EXPECT_TRUE(q.has_value()) << q.error().ToString();
    return std::move(q).value();
  }

  void SetDesc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next = 0) {
    ring_.desc(i) = VirtqDesc{.addr = addr, .len = len, .flags = flags, .next = next};
  }
  VirtqDesc* IndirectTable(size_t offset) { return reinterpret_cast<VirtqDesc*>(base_ + offset); }
  void MakeAvailable(uint16_t head) {
    ring_.avail_ring(avail_idx_ % kSize) = head;
    ++avail_idx_;
    ring_.avail_idx() = avail_idx_;
  }

  std::byte* base_ = nullptr;
  std::unique_ptr<LinearGuestMemory> memory_;
  RingView ring_;
  uint16_t avail_idx_ = 0;
};

TEST_F(DeviceQueueTest, CreateRejectsRingsOutsideMemoryAndMisalignedAddresses) {
  auto outside = DeviceQueue::Create({.name = "dev",
                                      .size = kSize,
                                      .desc_address = Addr(kBytes - 16),
                                      .avail_address = Addr(0),
                                      .used_address = Addr(kUsedOffset)},
                                     *memory_);
  EXPECT_FALSE(outside.has_value());
  auto misaligned = DeviceQueue::Create({.name = "dev",
                                         .size = kSize,
                                         .desc_address = Addr(8),
                                         .avail_address = Addr(kAvailOffset),
                                         .used_address = Addr(kUsedOffset)},
                                        *memory_);
  EXPECT_FALSE(misaligned.has_value());
}

TEST_F(DeviceQueueTest, PopsChainAndPushesUsedEntry) {
  DeviceQueue q = MakeQueue();
  SetDesc(3, Addr(kDataOffset), 10, VIRTQ_DESC_F_NEXT, 5);
  SetDesc(5, Addr(kDataOffset + 64), 20, VIRTQ_DESC_F_WRITE);
  MakeAvailable(3);
  DeviceChain chain;
  ASSERT_TRUE(q.Pop(chain).value());
  EXPECT_EQ(chain.head, 3);
  EXPECT_EQ(chain.readable_bytes, 10u);
  EXPECT_EQ(chain.writable_bytes, 20u);
  EXPECT_EQ(chain.writable[0].data(), base_ + kDataOffset + 64);
  EXPECT_FALSE(q.Pop(chain).value());

  EXPECT_EQ(q.Push(3, 21).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(q.Push(4, 0).error().code(), ErrorCode::kInvalidArgument);
  ASSERT_TRUE(q.Push(3, 20).has_value());
  EXPECT_EQ(ring_.used_idx(), 1);
  EXPECT_EQ(ring_.used_elem(0).id, 3u);
  EXPECT_EQ(ring_.used_elem(0).len, 20u);
  EXPECT_EQ(q.Push(3, 0).error().code(), ErrorCode::kInvalidArgument);  // Not popped again.
}

struct MalformedCase {
  std::string name;
  bool indirect_negotiated;
  std::function<void(DeviceQueueTest&)> setup;
  std::string reason;
};

class MalformedRingTest : public DeviceQueueTest,
                          public ::testing::WithParamInterface<MalformedCase> {};

TEST_P(MalformedRingTest, BreaksQueueWithEio) {
  DeviceQueue q = MakeQueue(GetParam().indirect_negotiated);
  GetParam().setup(*this);
  DeviceChain chain;
  auto r = q.Pop(chain);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().errno_value(), EIO);
  EXPECT_TRUE(q.broken());
  EXPECT_NE(q.broken_reason().find(GetParam().reason), std::string::npos) << q.broken_reason();
  // Stays broken.
  EXPECT_FALSE(q.Pop(chain).has_value());
  EXPECT_FALSE(q.Push(0, 0).has_value());
}

const uint64_t kData = kDataOffset;

INSTANTIATE_TEST_SUITE_P(
    Cases, MalformedRingTest,
    ::testing::Values(
        MalformedCase{"AvailIndexJump", false,
                      [](DeviceQueueTest& t) {
                        auto& m = t;
                        m.ring_.avail_idx() = kSize + 1;
                      },
                      "avail idx moved"},
        MalformedCase{"HeadOutOfRange", false, [](DeviceQueueTest& t) { t.MakeAvailable(kSize); },
                      "out of range"},
        MalformedCase{"NextOutOfRange", false,
                      [](DeviceQueueTest& t) {
                        auto& m = t;
                        m.SetDesc(0, m.Addr(kData), 4, VIRTQ_DESC_F_NEXT, kSize);
                        m.MakeAvailable(0);
                      },
                      "next 8 out of range"},
        MalformedCase{"Loop", false,
                      [](DeviceQueueTest& t) {
                        auto& m = t;
                        m.SetDesc(0, m.Addr(kData), 4, VIRTQ_DESC_F_NEXT, 1);
                        m.SetDesc(1, m.Addr(kData), 4, VIRTQ_DESC_F_NEXT, 0);
                        m.MakeAvailable(0);
                      },
                      "a loop"},
        MalformedCase{"SelfLoop", false,
                      [](DeviceQueueTest& t) {
                        auto& m = t;
                        m.SetDesc(2, m.Addr(kData), 4, VIRTQ_DESC_F_NEXT, 2);
                        m.MakeAvailable(2);
                      },
                      "a loop"},
        MalformedCase{"BufferOutsideMemory", false,
                      [](DeviceQueueTest& t) {
                        auto& m = t;
                        m.SetDesc(0, m.Addr(kBytes - 4), 8, 0);
                        m.MakeAvailable(0);
                      },
                      "outside guest memory"},
        MalformedCase{"BufferAddressWraps", false,
                      [](DeviceQueueTest& t) {
                        auto& m = t;
                        m.SetDesc(0, ~uint64_t{0} - 2, 8, 0);
                        m.MakeAvailable(0);
                      },
                      "outside guest memory"},
        MalformedCase{"ReadableAfterWritable", false,
                      [](DeviceQueueTest& t) {
                        auto& m = t;
                        m.SetDesc(0, m.Addr(kData), 4, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
                        m.SetDesc(1, m.Addr(kData), 4, 0);
                        m.MakeAvailable(0);
                      },
                      "readable buffer after a writable"},
        MalformedCase{"IndirectNotNegotiated", false,
                      [](DeviceQueueTest& t) {
                        auto& m = t;
                        m.SetDesc(0, m.Addr(kData), 32, VIRTQ_DESC_F_INDIRECT);
                        m.MakeAvailable(0);
                      },
                      "without VIRTIO_F_INDIRECT_DESC"},
        MalformedCase{"IndirectWithNext", true,
                      [](DeviceQueueTest& t) {
                        auto& m = t;
                        m.SetDesc(0, m.Addr(kData), 32, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT,
                                  1);
                        m.MakeAvailable(0);
                      },
                      "with VIRTQ_DESC_F_NEXT"},
        MalformedCase{"IndirectBadLength", true,
                      [](DeviceQueueTest& t) {
                        auto& m = t;
                        m.SetDesc(0, m.Addr(kData), 20, VIRTQ_DESC_F_INDIRECT);
                        m.MakeAvailable(0);
                      },
                      "indirect table of 20 bytes"},
        MalformedCase{"IndirectLongerThanQueue", true,
                      [](DeviceQueueTest& t) {
                        auto& m = t;
                        m.SetDesc(0, m.Addr(kData), 16 * (kSize + 1), VIRTQ_DESC_F_INDIRECT);
                        m.MakeAvailable(0);
                      },
                      "indirect table of"},
        MalformedCase{"IndirectTableOutsideMemory", true,
                      [](DeviceQueueTest& t) {
                        auto& m = t;
                        m.SetDesc(0, m.Addr(kBytes - 16), 32, VIRTQ_DESC_F_INDIRECT);
                        m.MakeAvailable(0);
                      },
                      "indirect table outside"},
        MalformedCase{"NestedIndirect", true,
                      [](DeviceQueueTest& t) {
                        auto& m = t;
                        VirtqDesc* table = m.IndirectTable(kData);
                        table[0] = {m.Addr(kData + 256), 32, VIRTQ_DESC_F_INDIRECT, 0};
                        m.SetDesc(0, m.Addr(kData), 32, VIRTQ_DESC_F_INDIRECT);
                        m.MakeAvailable(0);
                      },
                      "inside an indirect table"},
        MalformedCase{"IndirectLoop", true,
                      [](DeviceQueueTest& t) {
                        auto& m = t;
                        VirtqDesc* table = m.IndirectTable(kData);
                        table[0] = {m.Addr(kData + 256), 4, VIRTQ_DESC_F_NEXT, 1};
                        table[1] = {m.Addr(kData + 256), 4, VIRTQ_DESC_F_NEXT, 0};
                        m.SetDesc(0, m.Addr(kData), 32, VIRTQ_DESC_F_INDIRECT);
                        m.MakeAvailable(0);
                      },
                      "a loop"},
        MalformedCase{"IndirectNextOutOfTable", true,
                      [](DeviceQueueTest& t) {
                        auto& m = t;
                        VirtqDesc* table = m.IndirectTable(kData);
                        table[0] = {m.Addr(kData + 256), 4, VIRTQ_DESC_F_NEXT, 2};
                        m.SetDesc(0, m.Addr(kData), 32, VIRTQ_DESC_F_INDIRECT);
                        m.MakeAvailable(0);
                      },
                      "next 2 out of range (table of 2)"}),
    [](const auto& info) { return info.param.name; });

TEST_F(DeviceQueueTest, HeadMadeAvailableTwiceWhileInFlightBreaksQueue) {
  DeviceQueue q = MakeQueue();
  SetDesc(1, Addr(kDataOffset), 4, VIRTQ_DESC_F_WRITE);
  MakeAvailable(1);
  MakeAvailable(1);
  DeviceChain chain;
  ASSERT_TRUE(q.Pop(chain).value());
  auto r = q.Pop(chain);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(q.broken_reason().find("already in flight"), std::string::npos);
}

TEST_F(DeviceQueueTest, IndirectChainIsWalked) {
  DeviceQueue q = MakeQueue(/*indirect=*/true);
  VirtqDesc* table = IndirectTable(kDataOffset);
  table[0] = {Addr(kDataOffset + 256), 4, VIRTQ_DESC_F_NEXT, 1};
  table[1] = {Addr(kDataOffset + 512), 8, VIRTQ_DESC_F_WRITE, 0};
  SetDesc(6, Addr(kDataOffset), 32, VIRTQ_DESC_F_INDIRECT);
  MakeAvailable(6);
  DeviceChain chain;
  ASSERT_TRUE(q.Pop(chain).value());
  EXPECT_EQ(chain.head, 6);
  EXPECT_EQ(chain.readable_bytes, 4u);
  EXPECT_EQ(chain.writable_bytes, 8u);
}

}  // namespace
}  // namespace trellis::virtio
