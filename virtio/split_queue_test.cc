#include "virtio/split_queue.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "virtio/backend/device_queue.h"
#include "virtio/testing/queue_pair.h"

namespace trellis::virtio {
namespace {

using testing::QueuePair;
using testing::QueuePairOptions;

std::unique_ptr<QueuePair> MakePair(QueuePairOptions options) {
  auto pair = QueuePair::Create(options);
  EXPECT_TRUE(pair.has_value()) << pair.error().ToString();
  return std::move(pair).value();
}

void* Token(uintptr_t n) { return reinterpret_cast<void*>(n); }

// Collects PollUsed results: token -> written length (or -errno).
struct Completions {
  std::map<uintptr_t, int64_t> by_token;
  size_t count = 0;
  auto Fn() {
    return [this](void* token, Result<uint32_t> len) {
      ++count;
      by_token[reinterpret_cast<uintptr_t>(token)] =
          len.has_value() ? int64_t{*len} : -int64_t{len.error().errno_value()};
    };
  }
};

TEST(SplitQueueLayoutTest, RejectsSizesThatAreNotPowersOfTwoUpTo32768) {
  EXPECT_FALSE(SplitQueueLayout::For(0, 0).has_value());
  EXPECT_FALSE(SplitQueueLayout::For(6, 0).has_value());
  EXPECT_FALSE(SplitQueueLayout::For(65535, 0).has_value());
  EXPECT_FALSE(SplitQueueLayout::For(8, 16).has_value());
  ASSERT_TRUE(SplitQueueLayout::For(32768, 0).has_value());
  auto layout = SplitQueueLayout::For(256, 8);
  ASSERT_TRUE(layout.has_value());
  EXPECT_EQ(layout->avail_offset % 16, 0u);
  EXPECT_GE(layout->avail_offset, 256u * 16);
  EXPECT_GE(layout->used_offset, layout->avail_offset + 6 + 2 * 256);
  EXPECT_EQ(layout->used_offset % 4, 0u);
  EXPECT_GE(layout->indirect_offset, layout->used_offset + 6 + 8 * 256);
  EXPECT_EQ(layout->total_bytes, layout->indirect_offset + 256u * 8 * 16);
}

TEST(SplitQueueTest, CreateRejectsTooSmallOrMisalignedMemory) {
  alignas(64) static std::byte memory[4096];
  auto small = SplitQueue::Create({.name = "q", .size = 64},
                                  RingMemory{.host = std::span(memory, 100), .device_address = 0});
  ASSERT_FALSE(small.has_value());
  EXPECT_EQ(small.error().code(), ErrorCode::kInvalidArgument);
  auto misaligned =
      SplitQueue::Create({.name = "q", .size = 8},
                         RingMemory{.host = std::span(memory + 8, 4000), .device_address = 8});
  ASSERT_FALSE(misaligned.has_value());
  EXPECT_EQ(misaligned.error().code(), ErrorCode::kInvalidArgument);
}

TEST(SplitQueueTest, RoundTripCarriesDataBothWays) {
  auto pair = MakePair({.size = 8});
  std::memcpy(pair->HostAt(0), "ping", 4);
  const Buffer out[] = {pair->BufferAt(0, 4)};
  const Buffer in[] = {pair->BufferAt(64, 16)};
  auto head = pair->driver().Add(out, in, Token(42));
  ASSERT_TRUE(head.has_value()) << head.error().ToString();
  EXPECT_EQ(pair->driver().num_in_flight(), 1);

  DeviceChain chain;
  auto popped = pair->device().Pop(chain);
  ASSERT_TRUE(popped.has_value()) << popped.error().ToString();
  ASSERT_TRUE(*popped);
  EXPECT_EQ(chain.head, *head);
  ASSERT_EQ(chain.readable.size(), 1u);
  ASSERT_EQ(chain.writable.size(), 1u);
  EXPECT_EQ(std::string_view(reinterpret_cast<const char*>(chain.readable[0].data()), 4), "ping");
  EXPECT_EQ(chain.writable_bytes, 16u);
  std::memcpy(chain.writable[0].data(), "pong", 4);
  ASSERT_TRUE(pair->device().Push(chain.head, 4).has_value());

  Completions done;
  EXPECT_EQ(pair->driver().PollUsed(done.Fn()), 1u);
  EXPECT_EQ(done.by_token[42], 4);
  EXPECT_EQ(std::memcmp(pair->HostAt(64), "pong", 4), 0);
  EXPECT_EQ(pair->driver().num_in_flight(), 0);
  EXPECT_EQ(pair->driver().num_free(), 8);
  EXPECT_EQ(pair->driver().PollUsed(done.Fn()), 0u);
}

TEST(SplitQueueTest, AddFailsWithResourceExhaustedWhenFullAndRecovers) {
  auto pair = MakePair({.size = 4});
  const Buffer in[] = {pair->BufferAt(0, 8)};
  for (uintptr_t i = 0; i < 4; ++i) {
    ASSERT_TRUE(pair->driver().Add({}, in, Token(i)).has_value());
  }
  auto full = pair->driver().Add({}, in, Token(99));
  ASSERT_FALSE(full.has_value());
  EXPECT_EQ(full.error().code(), ErrorCode::kResourceExhausted);

  DeviceChain chain;
  ASSERT_TRUE(pair->device().Pop(chain).value());
  ASSERT_TRUE(pair->device().Push(chain.head, 0).has_value());
  Completions done;
  EXPECT_EQ(pair->driver().PollUsed(done.Fn()), 1u);
  EXPECT_TRUE(pair->driver().Add({}, in, Token(99)).has_value());
}

TEST(SplitQueueTest, AddRejectsEmptyAndNeverFittingRequests) {
  auto pair = MakePair({.size = 4});
  auto empty = pair->driver().Add({}, {}, Token(1));
  ASSERT_FALSE(empty.has_value());
  EXPECT_EQ(empty.error().code(), ErrorCode::kInvalidArgument);
  std::vector<Buffer> five(5, pair->BufferAt(0, 8));
  auto too_long = pair->driver().Add(five, {}, Token(1));
  ASSERT_FALSE(too_long.has_value());
  EXPECT_EQ(too_long.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(pair->driver().num_free(), 4);
}

TEST(SplitQueueTest, IndirectChainUsesOneRingDescriptor) {
  auto pair = MakePair({.size = 8, .indirect_max = 4});
  std::memcpy(pair->HostAt(0), "abc", 3);
  std::memcpy(pair->HostAt(16), "def", 3);
  const Buffer out[] = {pair->BufferAt(0, 3), pair->BufferAt(16, 3)};
  const Buffer in[] = {pair->BufferAt(64, 2)};
  ASSERT_TRUE(pair->driver().Add(out, in, Token(7)).has_value());
  EXPECT_EQ(pair->driver().num_free(), 7);

  DeviceChain chain;
  ASSERT_TRUE(pair->device().Pop(chain).value());
  ASSERT_EQ(chain.readable.size(), 2u);
  ASSERT_EQ(chain.writable.size(), 1u);
  EXPECT_EQ(std::memcmp(chain.readable[1].data(), "def", 3), 0);
  chain.writable[0][0] = std::byte{'o'};
  chain.writable[0][1] = std::byte{'k'};
  ASSERT_TRUE(pair->device().Push(chain.head, 2).has_value());
  Completions done;
  EXPECT_EQ(pair->driver().PollUsed(done.Fn()), 1u);
  EXPECT_EQ(done.by_token[7], 2);
  EXPECT_EQ(std::memcmp(pair->HostAt(64), "ok", 2), 0);
  EXPECT_EQ(pair->driver().num_free(), 8);
}

TEST(SplitQueueTest, SingleBuffersAndChainsBeyondIndirectMaxUseDirectDescriptors) {
  auto pair = MakePair({.size = 8, .indirect_max = 4});
  const Buffer one[] = {pair->BufferAt(0, 8)};
  ASSERT_TRUE(pair->driver().Add(one, {}, Token(1)).has_value());
  EXPECT_EQ(pair->driver().num_free(), 7);
  std::vector<Buffer> six(6, pair->BufferAt(0, 8));
  ASSERT_TRUE(pair->driver().Add(six, {}, Token(2)).has_value());
  EXPECT_EQ(pair->driver().num_free(), 1);

  DeviceChain chain;
  ASSERT_TRUE(pair->device().Pop(chain).value());
  EXPECT_EQ(chain.readable.size(), 1u);
  ASSERT_TRUE(pair->device().Pop(chain).value());
  EXPECT_EQ(chain.readable.size(), 6u);
}

// Runs more than 2^16 requests so that avail->idx and used->idx wrap, with a
// mix of chain shapes and out-of-order completions.
class SplitQueueWrapTest : public ::testing::TestWithParam<std::tuple<uint16_t, bool, uint16_t>> {};

TEST_P(SplitQueueWrapTest, IndexesWrapPast16Bits) {
  const auto [size, event_idx, indirect_max] = GetParam();
  auto pair = MakePair({.size = size, .event_idx = event_idx, .indirect_max = indirect_max});
  constexpr uint64_t kRequests = 70'000;
  uint64_t next_token = 1;
  uint64_t completed = 0;
  std::vector<DeviceChain> popped;
  std::vector<uint8_t> seen(kRequests + 1);
  while (completed < kRequests) {
    // Fill the queue with 1-, 2- and 3-buffer requests.
    while (next_token <= kRequests) {
      const size_t shape = next_token % 3;
      const Buffer out[] = {pair->BufferAt(0, 8), pair->BufferAt(8, 8)};
      const Buffer in[] = {pair->BufferAt(64, 4)};
      auto head = pair->driver().Add(std::span(out, shape), in, Token(next_token));
      if (!head.has_value()) {
        ASSERT_EQ(head.error().code(), ErrorCode::kResourceExhausted) << head.error().ToString();
        break;
      }
      ++next_token;
    }
    pair->driver().NeedsNotify();
    popped.clear();
    for (;;) {
      DeviceChain chain;
      auto r = pair->device().Pop(chain);
      ASSERT_TRUE(r.has_value()) << r.error().ToString();
      if (!*r) break;
      popped.push_back(std::move(chain));
    }
    ASSERT_FALSE(popped.empty());
    // Complete in reverse order; the written length tells the request apart.
    for (auto it = popped.rbegin(); it != popped.rend(); ++it) {
      ASSERT_TRUE(
          pair->device().Push(it->head, static_cast<uint32_t>(it->readable.size())).has_value());
    }
    pair->device().NeedsCall();
    pair->driver().PollUsed([&](void* token, Result<uint32_t> len) {
      const uintptr_t t = reinterpret_cast<uintptr_t>(token);
      ASSERT_TRUE(len.has_value()) << len.error().ToString();
      ASSERT_LE(t, kRequests);
      EXPECT_EQ(seen[t]++, 0) << "token " << t << " completed twice";
      EXPECT_EQ(*len, t % 3);
      ++completed;
    });
    ASSERT_FALSE(pair->driver().broken()) << pair->driver().broken_reason();
  }
  EXPECT_EQ(completed, kRequests);
  EXPECT_EQ(pair->driver().num_free(), size);
  EXPECT_EQ(pair->driver().num_in_flight(), 0);
}

INSTANTIATE_TEST_SUITE_P(Sizes, SplitQueueWrapTest,
                         ::testing::Values(std::tuple<uint16_t, bool, uint16_t>{8, false, 0},
                                           std::tuple<uint16_t, bool, uint16_t>{8, true, 4},
                                           std::tuple<uint16_t, bool, uint16_t>{256, false, 8},
                                           std::tuple<uint16_t, bool, uint16_t>{256, true, 0}),
                         [](const auto& info) {
                           return "Size" + std::to_string(std::get<0>(info.param)) +
                                  (std::get<1>(info.param) ? "EventIdx" : "NoEventIdx") +
                                  (std::get<2>(info.param) ? "Indirect" : "Direct");
                         });

}  // namespace
}  // namespace trellis::virtio
