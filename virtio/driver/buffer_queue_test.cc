// BufferQueue over a real split queue with an in-process device
// (virtio/testing/queue_pair.h): buffers in both directions, reuse,
// quiesce, and a device that breaks the ring while completions run.
#include "virtio/driver/buffer_queue.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "virtio/testing/queue_pair.h"

namespace trellis::virtio {
namespace {

using ::testing::HasSubstr;

struct Done {
  size_t id;
  Result<uint32_t> length;
};

class BufferQueueTest : public ::testing::Test {
 protected:
  void Make(bool device_writes, uint32_t buffers = 4) {
    auto pair = testing::QueuePair::Create({.size = 8, .data_bytes = 64 * 1024});
    ASSERT_TRUE(pair) << pair.error().ToString();
    pair_ = std::move(*pair);
    BufferQueueOptions options{.name = "test bufq",
                               .device_writes = device_writes,
                               .buffers = buffers,
                               .buffer_size = 1000};
    ASSERT_LE(BufferQueue::MemoryFor(options), pair_->data().size());
    auto q = BufferQueue::Create(
        options, &pair_->driver(),
        RingMemory{.host = pair_->data(),
                   .device_address = reinterpret_cast<uint64_t>(pair_->data().data())},
        [this] { ++kicks_; },
        [this](size_t id, Result<uint32_t> length) {
          done_.push_back({id, std::move(length)});
          if (on_done_) on_done_(id);
        });
    ASSERT_TRUE(q) << q.error().ToString();
    q_ = std::move(*q);
  }

  // The device serves every available chain: writes `fill` into writable
  // buffers (all of it), or records readable bytes.
  void Serve(std::byte fill = std::byte{0x5a}) {
    DeviceChain chain;
    while (true) {
      auto popped = pair_->device().Pop(chain);
      ASSERT_TRUE(popped) << popped.error().ToString();
      if (!*popped) break;
      uint32_t written = 0;
      for (auto span : chain.writable) {
        std::memset(span.data(), static_cast<int>(fill), span.size());
        written += static_cast<uint32_t>(span.size());
      }
      for (auto span : chain.readable) seen_.insert(seen_.end(), span.begin(), span.end());
      ASSERT_TRUE(pair_->device().Push(chain.head, written));
    }
  }

  std::unique_ptr<testing::QueuePair> pair_;
  std::unique_ptr<BufferQueue> q_;
  std::vector<Done> done_;
  std::function<void(size_t)> on_done_;
  std::vector<std::byte> seen_;
  int kicks_ = 0;
};

TEST_F(BufferQueueTest, DeviceWritableBuffersComeBackFilledAndCanBePostedAgain) {
  Make(/*device_writes=*/true);
  for (int i = 0; i < 4; ++i) {
    auto id = q_->Acquire();
    ASSERT_TRUE(id);
    ASSERT_TRUE(q_->Post(*id, 1000));
  }
  EXPECT_FALSE(q_->Acquire()) << "all four are in the device";
  q_->Notify();
  EXPECT_EQ(kicks_, 1);
  EXPECT_EQ(q_->in_device(), 4u);
  Serve();
  q_->OnUsed();
  ASSERT_EQ(done_.size(), 4u);
  for (const Done& d : done_) {
    ASSERT_TRUE(d.length);
    EXPECT_EQ(*d.length, 1000u);
    EXPECT_EQ(q_->buffer(d.id)[999], std::byte{0x5a});
  }
  EXPECT_EQ(q_->in_device(), 0u);
  // Completed buffers are the caller's: none is free until released.
  EXPECT_FALSE(q_->Acquire());
  q_->Release(done_[0].id);
  EXPECT_TRUE(q_->Acquire());
}

TEST_F(BufferQueueTest, DeviceReadableBuffersCarryWhatWasPostedInOrder) {
  Make(/*device_writes=*/false);
  for (char c : std::string("abc")) {
    auto id = q_->Acquire();
    ASSERT_TRUE(id);
    q_->buffer(*id)[0] = std::byte(c);
    ASSERT_TRUE(q_->Post(*id, 1));
  }
  q_->Notify();
  Serve();
  q_->OnUsed();
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(seen_.data()), seen_.size()), "abc");
  ASSERT_EQ(done_.size(), 3u);
}

TEST_F(BufferQueueTest, PostRefusesEmptyAndOversizedBuffersAndFreesThem) {
  Make(true, 1);
  auto id = q_->Acquire();
  EXPECT_EQ(q_->Post(*id, 0).error().code(), ErrorCode::kInvalidArgument);
  id = q_->Acquire();
  ASSERT_TRUE(id) << "the refused buffer is free again";
  EXPECT_EQ(q_->Post(*id, 1001).error().code(), ErrorCode::kInvalidArgument);
}

TEST_F(BufferQueueTest, QuiesceHoldsPostsBackAndReportsDrainedWhenTheDeviceIsEmpty) {
  Make(true);
  auto a = q_->Acquire();
  ASSERT_TRUE(q_->Post(*a, 10));
  bool drained = false;
  q_->Quiesce([&] { drained = true; });
  EXPECT_FALSE(drained) << "one buffer is still in the device";
  auto b = q_->Acquire();
  ASSERT_TRUE(q_->Post(*b, 10));
  EXPECT_EQ(q_->in_device(), 1u) << "held back while quiesced";
  Serve();
  q_->OnUsed();
  EXPECT_TRUE(drained);
  q_->Unquiesce();
  EXPECT_EQ(q_->in_device(), 1u) << "the held-back buffer went out";
  Serve();
  q_->OnUsed();
  EXPECT_EQ(done_.size(), 2u);
}

TEST_F(BufferQueueTest, AbortFromInsideACompletionFailsEverythingElseWithEio) {
  Make(true);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(q_->Post(*q_->Acquire(), 100));
  pair_->device().set_misbehaviour(Misbehaviour::kLengthTooLarge);
  // The engine aborts on the first error, as the drivers do.
  on_done_ = [this](size_t) {
    if (!done_.back().length) q_->Abort(done_.back().length.error().message());
  };
  Serve();
  q_->OnUsed();
  ASSERT_EQ(done_.size(), 3u) << "every buffer completes exactly once";
  for (const Done& d : done_) {
    ASSERT_FALSE(d.length);
    EXPECT_EQ(d.length.error().errno_value(), EIO);
  }
  EXPECT_THAT(done_[0].length.error().message(), HasSubstr("used len 101"));
  EXPECT_TRUE(q_->aborted());
  auto id = q_->Acquire();
  ASSERT_TRUE(id);
  EXPECT_EQ(q_->Post(*id, 10).error().errno_value(), EIO);
}

}  // namespace
}  // namespace trellis::virtio
