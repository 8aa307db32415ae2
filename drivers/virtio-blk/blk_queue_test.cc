// BlkQueue against a RAM disk that plays the virtio-blk device on the other
// side of a real split queue (virtio/testing/queue_pair.h), including a
// device that breaks the ring.
#include "drivers/virtio-blk/blk_queue.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <optional>
#include <vector>

#include "drivers/virtio-blk/blk_wire.h"
#include "virtio/testing/queue_pair.h"

namespace trellis::virtio_blk {
namespace {

using ::testing::HasSubstr;
using virtio::DeviceChain;
using virtio::DeviceQueue;
using virtio::Misbehaviour;

constexpr uint32_t kBlock = 512;
constexpr uint64_t kBlocks = 64;

// The device: a RAM disk serving every available chain.
struct RamDisk {
  std::vector<std::byte> bytes = std::vector<std::byte>(kBlocks * kBlock);
  std::vector<uint32_t> types;    // Request types seen, in order.
  std::optional<uint8_t> status;  // Forced status byte, if set.

  void Serve(DeviceQueue& queue) {
    DeviceChain chain;
    for (;;) {
      auto popped = queue.Pop(chain);
      ASSERT_TRUE(popped) << popped.error().ToString();
      if (!*popped) return;
      RequestHeader header;
      ASSERT_GE(chain.readable.size(), 1u);
      std::memcpy(&header, chain.readable[0].data(), sizeof(header));
      types.push_back(header.type);
      size_t offset = header.sector * 512;
      uint32_t written = 1;
      switch (static_cast<RequestType>(header.type)) {
        case RequestType::kIn:
          std::memcpy(chain.writable[0].data(), bytes.data() + offset, chain.writable[0].size());
          written += chain.writable[0].size();
          break;
        case RequestType::kOut:
          std::memcpy(bytes.data() + offset, chain.readable[1].data(), chain.readable[1].size());
          break;
        case RequestType::kWriteZeroes: {
          DiscardSegment segment;
          std::memcpy(&segment, chain.readable[1].data(), sizeof(segment));
          std::memset(bytes.data() + segment.sector * 512, 0, segment.num_sectors * 512);
          break;
        }
        default:
          break;
      }
      chain.writable.back()[0] = std::byte{status.value_or(kStatusOk)};
      ASSERT_TRUE(queue.Push(chain.head, written));
    }
  }
};

class BlkQueueTest : public ::testing::Test {
 protected:
  void Start(uint64_t features, uint32_t slots = 4) {
    options_ = {
        .name = "virtio-blk test",
        .info = {.block_size = kBlock, .block_count = kBlocks, .max_transfer_size = 8 * kBlock},
        .features = features,
        .slots = slots};
    auto pair = virtio::testing::QueuePair::Create(
        {.size = 8, .indirect_max = 4, .data_bytes = BlkQueue::MemoryFor(options_)});
    ASSERT_TRUE(pair) << pair.error().ToString();
    pair_ = std::move(*pair);
    auto queue = BlkQueue::Create(
        options_, &pair_->driver(),
        {.host = pair_->data(), .device_address = reinterpret_cast<uint64_t>(pair_->data().data())},
        [this] { ++kicks_; });
    ASSERT_TRUE(queue) << queue.error().ToString();
    queue_ = std::move(*queue);
  }

  // Submits and returns a slot its outcome lands in.
  std::shared_ptr<std::optional<Result<void>>> Submit(BlockRequest request) {
    auto outcome = std::make_shared<std::optional<Result<void>>>();
    queue_->Submit(request, [outcome](Result<void> r) { *outcome = std::move(r); });
    return outcome;
  }
  // The device serves what is available, then the driver takes the used ring.
  void DeviceRound() {
    disk_.Serve(pair_->device());
    queue_->OnUsed();
  }

  BlkQueueOptions options_;
  std::unique_ptr<virtio::testing::QueuePair> pair_;
  std::unique_ptr<BlkQueue> queue_;
  RamDisk disk_;
  int kicks_ = 0;
};

std::vector<std::byte> Pattern(size_t n, int seed) {
  std::vector<std::byte> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>(seed * 31 + i * 7);
  return v;
}

TEST_F(BlkQueueTest, WriteLandsOnTheDiskAndReadsBack) {
  Start(0);
  auto data = Pattern(2 * kBlock, 1);
  auto wrote =
      Submit({.op = BlockOp::kWrite, .offset_blocks = 3, .length_blocks = 2, .data = data});
  EXPECT_EQ(kicks_, 1);
  EXPECT_FALSE(wrote->has_value());
  DeviceRound();
  ASSERT_TRUE(wrote->has_value());
  ASSERT_TRUE(**wrote) << (*wrote)->error().ToString();
  EXPECT_EQ(std::memcmp(disk_.bytes.data() + 3 * kBlock, data.data(), data.size()), 0);

  std::vector<std::byte> back(2 * kBlock);
  auto read = Submit({.op = BlockOp::kRead, .offset_blocks = 3, .length_blocks = 2, .data = back});
  DeviceRound();
  ASSERT_TRUE(read->has_value() && **read);
  EXPECT_EQ(back, data);
  EXPECT_EQ(disk_.types, (std::vector<uint32_t>{1, 0}));
}

TEST_F(BlkQueueTest, RequestsBeyondTheSlotsWaitAndAllComplete) {
  Start(0, /*slots=*/2);
  std::vector<std::vector<std::byte>> data;
  std::vector<std::shared_ptr<std::optional<Result<void>>>> outcomes;
  for (int i = 0; i < 10; ++i) data.push_back(Pattern(kBlock, i));
  for (int i = 0; i < 10; ++i) {
    outcomes.push_back(Submit({.op = BlockOp::kWrite,
                               .offset_blocks = uint64_t(i),
                               .length_blocks = 1,
                               .data = data[i]}));
  }
  EXPECT_EQ(queue_->in_flight(), 2u);
  for (int round = 0; round < 10 && queue_->in_flight() > 0; ++round) DeviceRound();
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(outcomes[i]->has_value() && **outcomes[i]) << i;
    EXPECT_EQ(std::memcmp(disk_.bytes.data() + i * kBlock, data[i].data(), kBlock), 0) << i;
  }
}

TEST_F(BlkQueueTest, FuaWriteCompletesAfterAFlush) {
  Start(Bit(kFeatureFlush));
  auto data = Pattern(kBlock, 2);
  auto wrote = Submit(
      {.op = BlockOp::kWrite, .offset_blocks = 0, .length_blocks = 1, .data = data, .fua = true});
  DeviceRound();  // The write; the flush is added from its completion.
  EXPECT_FALSE(wrote->has_value());
  DeviceRound();
  ASSERT_TRUE(wrote->has_value() && **wrote);
  EXPECT_EQ(disk_.types, (std::vector<uint32_t>{1, 4}));
}

TEST_F(BlkQueueTest, WithoutTheFeaturesFlushIsImmediateAndDiscardUnimplemented) {
  Start(0);
  auto flushed = Submit({.op = BlockOp::kFlush});
  ASSERT_TRUE(flushed->has_value() && **flushed);
  auto discarded = Submit({.op = BlockOp::kDiscard, .offset_blocks = 0, .length_blocks = 1});
  ASSERT_TRUE(discarded->has_value());
  ASSERT_FALSE(**discarded);
  EXPECT_EQ((*discarded)->error().code(), ErrorCode::kUnimplemented);
  EXPECT_THAT((*discarded)->error().message(), HasSubstr("DISCARD"));
  EXPECT_TRUE(disk_.types.empty());
}

TEST_F(BlkQueueTest, WriteZeroesReachesTheDevice) {
  Start(Bit(kFeatureWriteZeroes));
  std::memset(disk_.bytes.data(), 0x5a, disk_.bytes.size());
  auto zeroed = Submit({.op = BlockOp::kWriteZeroes, .offset_blocks = 4, .length_blocks = 3});
  DeviceRound();
  ASSERT_TRUE(zeroed->has_value() && **zeroed);
  EXPECT_EQ(disk_.bytes[4 * kBlock], std::byte{0});
  EXPECT_EQ(disk_.bytes[7 * kBlock - 1], std::byte{0});
  EXPECT_EQ(disk_.bytes[7 * kBlock], std::byte{0x5a});
}

TEST_F(BlkQueueTest, DeviceErrorsBecomeEio) {
  Start(0);
  std::vector<std::byte> buffer(kBlock);
  disk_.status = kStatusIoError;
  auto failed =
      Submit({.op = BlockOp::kRead, .offset_blocks = 5, .length_blocks = 1, .data = buffer});
  DeviceRound();
  ASSERT_TRUE(failed->has_value() && !**failed);
  EXPECT_EQ((*failed)->error().errno_value(), EIO);
  EXPECT_THAT((*failed)->error().message(), HasSubstr("read of 1 blocks at block 5"));
  disk_.status = 42;
  auto junk =
      Submit({.op = BlockOp::kRead, .offset_blocks = 5, .length_blocks = 1, .data = buffer});
  DeviceRound();
  ASSERT_TRUE(junk->has_value() && !**junk);
  EXPECT_THAT((*junk)->error().message(), HasSubstr("status 42"));
}

TEST_F(BlkQueueTest, BrokenRingFailsEverythingWithEioAndLaterRequestsToo) {
  Start(0, /*slots=*/2);
  std::vector<std::byte> a(kBlock), b(kBlock), c(kBlock);
  auto first = Submit({.op = BlockOp::kRead, .offset_blocks = 0, .length_blocks = 1, .data = a});
  auto second = Submit({.op = BlockOp::kRead, .offset_blocks = 1, .length_blocks = 1, .data = b});
  auto waiting = Submit({.op = BlockOp::kRead, .offset_blocks = 2, .length_blocks = 1, .data = c});
  pair_->device().set_misbehaviour(Misbehaviour::kIdOutOfRange);
  DeviceRound();
  for (auto* outcome : {&first, &second}) {
    ASSERT_TRUE((*outcome)->has_value());
    ASSERT_FALSE(***outcome);
    EXPECT_EQ((**outcome)->error().errno_value(), EIO);
  }
  // The queued request started on a broken queue and failed too.
  ASSERT_TRUE(waiting->has_value());
  EXPECT_FALSE(**waiting);
  auto later = Submit({.op = BlockOp::kRead, .offset_blocks = 0, .length_blocks = 1, .data = a});
  ASSERT_TRUE(later->has_value() && !**later);
  EXPECT_EQ(queue_->in_flight(), 0u);
}

TEST_F(BlkQueueTest, AbortFailsInFlightAndWaitingRequests) {
  Start(0, /*slots=*/1);
  std::vector<std::byte> a(kBlock), b(kBlock);
  auto in_device =
      Submit({.op = BlockOp::kRead, .offset_blocks = 0, .length_blocks = 1, .data = a});
  auto waiting = Submit({.op = BlockOp::kRead, .offset_blocks = 1, .length_blocks = 1, .data = b});
  queue_->Abort("the backend hung up");
  for (auto* outcome : {&in_device, &waiting}) {
    ASSERT_TRUE((*outcome)->has_value());
    ASSERT_FALSE(***outcome);
    EXPECT_EQ((**outcome)->error().errno_value(), EIO);
  }
  EXPECT_THAT((*waiting)->error().message(), HasSubstr("the backend hung up"));
}

TEST_F(BlkQueueTest, QuiesceWaitsForTheDeviceAndUnquiesceStartsWhatWaited) {
  Start(0);
  std::vector<std::byte> a(kBlock), b(kBlock);
  auto before = Submit({.op = BlockOp::kRead, .offset_blocks = 0, .length_blocks = 1, .data = a});
  bool drained = false;
  queue_->Quiesce([&] { drained = true; });
  EXPECT_FALSE(drained);
  auto during = Submit({.op = BlockOp::kRead, .offset_blocks = 1, .length_blocks = 1, .data = b});
  DeviceRound();
  EXPECT_TRUE(drained);
  ASSERT_TRUE(before->has_value() && **before);
  EXPECT_FALSE(during->has_value());
  EXPECT_EQ(queue_->in_flight(), 0u);
  queue_->Unquiesce();
  DeviceRound();
  ASSERT_TRUE(during->has_value() && **during);
}

}  // namespace
}  // namespace trellis::virtio_blk
