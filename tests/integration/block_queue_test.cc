// The block queue (runtime/block_queue_wire.h) through a real host and
// uring-block driver on a real file: data integrity at depth 32, the host's
// own checks, suspend with I/O in flight, a hostile ring, and a queue whose
// token is revoked or whose host dies.
#include "tools/client/block_queue.h"

#include <gmock/gmock.h>
#include <signal.h>
#include <sys/eventfd.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "runtime/block_queue_wire.h"
#include "tests/integration/testing/block_stream.h"
#include "tests/integration/testing/disk_fixture.h"
#include "tests/integration/testing/power_cycle.h"
#include "virtio/split_queue.h"

namespace trellis::testing {
namespace {

using client::BlockQueue;
using client::BlockQueueRequest;
using ::testing::HasSubstr;

constexpr auto kWait = std::chrono::seconds(20);

class BlockQueueTest : public DiskFixture {
 protected:
  BlockInfo DeviceInfo() {
    block::v1::BlockInfo info = Info();
    return {.block_size = info.block_size(),
            .block_count = info.block_count(),
            .read_only = info.read_only(),
            .max_transfer_size = info.max_transfer_size()};
  }

  std::unique_ptr<BlockQueue> Open(std::optional<BlockInfo> info = std::nullopt,
                                   client::BlockQueueOptions options = {}) {
    auto queue = BlockQueue::Open(endpoint_, token_, info ? *info : DeviceInfo(), options);
    EXPECT_TRUE(queue) << queue.error().ToString();
    return queue ? std::move(*queue) : nullptr;
  }

  // Submits one request, kicks, and waits for its completion.
  static Result<void> RunOne(BlockQueue& queue, const BlockQueueRequest& request) {
    TRELLIS_TRY(queue.Submit(request, 1));
    queue.Kick();
    std::optional<Result<void>> result;
    while (!result) {
      if (queue.Wait([&](uint64_t, Result<void> r) { result = std::move(r); }, kWait) == 0) {
        return Fail(ErrorCode::kDeadlineExceeded, "no completion");
      }
    }
    return *result;
  }
};

// Random single-block writes and reads with `depth` in flight until `ops`
// are answered — and for as long as `keep_going()` holds, if given — with every
// read checked against the block's last write. The same shape as
// RunStream, through a BlockQueue. StreamCheck::completed counts answers.
StreamCheck RunQueue(BlockQueue& queue, uint64_t blocks, uint32_t block_size, int ops, int depth,
                     std::function<void(int)> after_completion = nullptr,
                     std::function<bool()> keep_going = nullptr) {
  std::mt19937_64 rng(11);
  std::vector<int> expected(blocks, -1);  // Seed of the last write, -1: zeroes.
  struct Outstanding {
    uint64_t block;
    int seed;  // -2: a read.
    uint64_t slot;
  };
  std::map<uint64_t, Outstanding> outstanding;
  std::vector<bool> busy(blocks, false);
  std::vector<uint64_t> free_slots;
  for (int i = 0; i < depth; ++i) free_slots.push_back(static_cast<uint64_t>(i));
  auto bytes = [&](int seed, uint64_t block) {
    return Pattern(block_size, seed * 31 + int(block));
  };
  StreamCheck check;
  int issued = 0;
  auto more = [&] { return issued < ops || (keep_going && keep_going()); };
  while (more() || !outstanding.empty()) {
    while (more() && !free_slots.empty()) {
      uint64_t block = rng() % blocks;
      if (busy[block]) continue;
      busy[block] = true;
      uint64_t slot = free_slots.back();
      free_slots.pop_back();
      BlockQueueRequest request{
          .offset_blocks = block, .length_blocks = 1, .data_offset = slot * block_size};
      int seed = -2;
      if (rng() % 2 == 0) {
        request.op = BlockOp::kWrite;
        seed = issued;
        std::string data = bytes(seed, block);
        std::memcpy(queue.data().data() + request.data_offset, data.data(), block_size);
      }
      auto submitted = queue.Submit(request, static_cast<uint64_t>(issued));
      EXPECT_TRUE(submitted) << submitted.error().ToString();
      if (!submitted) return check;
      outstanding[static_cast<uint64_t>(issued)] = {block, seed, slot};
      ++issued;
    }
    queue.Kick();
    size_t n = queue.Wait(
        [&](uint64_t tag, Result<void> result) {
          auto it = outstanding.find(tag);
          if (it == outstanding.end()) {
            ++check.mismatches;  // Answered twice or never asked.
            return;
          }
          auto [block, seed, slot] = it->second;
          outstanding.erase(it);
          busy[block] = false;
          ++check.completed;
          if (!result) {
            ++check.failures;
          } else if (seed >= 0) {
            expected[block] = seed;
          } else {
            std::string want =
                expected[block] < 0 ? std::string(block_size, '\0') : bytes(expected[block], block);
            if (std::memcmp(queue.data().data() + slot * block_size, want.data(), block_size) !=
                0) {
              ++check.mismatches;
            }
          }
          free_slots.push_back(slot);
          if (after_completion) after_completion(check.completed);
        },
        kWait);
    if (n == 0) {
      ADD_FAILURE() << "no completion within " << kWait.count() << " s; " << outstanding.size()
                    << " in flight";
      return check;
    }
  }
  return check;
}

TEST_F(BlockQueueTest, TenThousandRandomWritesAndReadsAtDepth32Verify) {
  StartDisk(4096 * 4096, R"({"key": "block.block_size", "int_value": 4096})");
  auto queue = Open();
  ASSERT_TRUE(queue);
  auto check = RunQueue(*queue, 4096, 4096, 10'000, 32);
  EXPECT_EQ(check.completed, 10'000);
  EXPECT_EQ(check.failures, 0);
  EXPECT_EQ(check.mismatches, 0);
}

TEST_F(BlockQueueTest, WritesReachTheFileAndEveryOperationWorks) {
  StartDisk(256 * 4096, R"({"key": "block.block_size", "int_value": 4096})");
  auto queue = Open();
  ASSERT_TRUE(queue);
  std::string pattern = Pattern(2 * 4096, 5);
  std::memcpy(queue->data().data(), pattern.data(), pattern.size());
  ASSERT_TRUE(RunOne(*queue, {.op = BlockOp::kWrite,
                              .offset_blocks = 10,
                              .length_blocks = 2,
                              .data_offset = 0,
                              .fua = true}));
  ASSERT_TRUE(RunOne(*queue, {.op = BlockOp::kFlush}));
  std::ifstream file(image_, std::ios::binary);
  file.seekg(10 * 4096);
  std::string on_disk(pattern.size(), '\0');
  file.read(on_disk.data(), static_cast<std::streamsize>(on_disk.size()));
  EXPECT_EQ(on_disk, pattern);
  // Read back into another part of the data area.
  ASSERT_TRUE(RunOne(
      *queue,
      {.op = BlockOp::kRead, .offset_blocks = 10, .length_blocks = 2, .data_offset = 8 * 4096}));
  EXPECT_EQ(0, std::memcmp(queue->data().data() + 8 * 4096, pattern.data(), pattern.size()));
  // Write-zeroes and discard both leave zeroes behind on a file.
  ASSERT_TRUE(
      RunOne(*queue, {.op = BlockOp::kWriteZeroes, .offset_blocks = 10, .length_blocks = 1}));
  ASSERT_TRUE(RunOne(*queue, {.op = BlockOp::kDiscard, .offset_blocks = 11, .length_blocks = 1}));
  ASSERT_TRUE(RunOne(
      *queue,
      {.op = BlockOp::kRead, .offset_blocks = 10, .length_blocks = 2, .data_offset = 8 * 4096}));
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(queue->data().data() + 8 * 4096), 8192),
            std::string(8192, '\0'));
}

TEST_F(BlockQueueTest, TheClientRefusesBadRequestsBeforeSharingThem) {
  StartDisk(64 * 4096, R"({"key": "block.block_size", "int_value": 4096})");
  auto queue = Open(std::nullopt, {.size = 4, .data_bytes = 8192});
  ASSERT_TRUE(queue);
  auto past_end = queue->Submit({.op = BlockOp::kRead, .offset_blocks = 63, .length_blocks = 2}, 1);
  ASSERT_FALSE(past_end);
  EXPECT_EQ(past_end.error().code(), ErrorCode::kOutOfRange);
  auto outside = queue->Submit(
      {.op = BlockOp::kRead, .offset_blocks = 0, .length_blocks = 1, .data_offset = 8192}, 1);
  ASSERT_FALSE(outside);
  EXPECT_EQ(outside.error().code(), ErrorCode::kOutOfRange);
  EXPECT_THAT(outside.error().message(), HasSubstr("data area"));
  for (uint64_t i = 0; i < 4; ++i) {
    ASSERT_TRUE(queue->Submit({.op = BlockOp::kFlush}, i));
  }
  auto full = queue->Submit({.op = BlockOp::kFlush}, 5);
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().code(), ErrorCode::kResourceExhausted);
  queue->Kick();
  size_t done = 0;
  while (done < 4 && queue->Wait([&](uint64_t, Result<void> r) { done += r.has_value(); }, kWait)) {
  }
  EXPECT_EQ(done, 4u);
}

TEST_F(BlockQueueTest, TheHostChecksEveryRequestAgainstTheDevice) {
  // A client that lies to itself about the geometry gets the host's answer.
  StartDisk(64 * 4096, R"({"key": "block.block_size", "int_value": 4096},)"
                       R"({"key": "block.read_only", "bool_value": true})");
  BlockInfo lie = DeviceInfo();
  ASSERT_TRUE(lie.read_only);
  lie.block_count = 1 << 20;
  lie.read_only = false;
  auto queue = Open(lie);
  ASSERT_TRUE(queue);
  auto past_end = RunOne(*queue, {.op = BlockOp::kRead, .offset_blocks = 64, .length_blocks = 1});
  ASSERT_FALSE(past_end);
  EXPECT_EQ(past_end.error().code(), ErrorCode::kOutOfRange);
  auto write = RunOne(*queue, {.op = BlockOp::kWrite, .offset_blocks = 0, .length_blocks = 1});
  ASSERT_FALSE(write);
  EXPECT_EQ(write.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_TRUE(RunOne(*queue, {.op = BlockOp::kRead, .offset_blocks = 63, .length_blocks = 1}));
}

TEST_F(BlockQueueTest, SuspendWithIoInFlightLosesAndDuplicatesNothing) {
  StartDisk(1024 * 4096, R"({"key": "block.block_size", "int_value": 4096})");
  auto queue = Open();
  ASSERT_TRUE(queue);
  // Requests stay in flight from the 500th answer until both cycles are done.
  std::atomic<int> cycles = -1;
  std::thread cycler;
  auto check = RunQueue(
      *queue, 1024, 4096, 1'000, 32,
      [&](int completed) {
        if (completed == 500 && !cycler.joinable()) {
          cycler = std::thread([&] { cycles = SuspendAndResume(manager_->endpoint(), 2); });
        }
      },
      [&] { return cycles < 0; });
  if (cycler.joinable()) cycler.join();
  EXPECT_GE(check.completed, 1'000);
  EXPECT_EQ(check.failures, 0);
  EXPECT_EQ(check.mismatches, 0);
  EXPECT_EQ(cycles, 2) << "both suspends reached Suspended and resumed";
}

TEST_F(BlockQueueTest, RevokingTheTokenStopsTheQueueAndTellsTheClient) {
  StartDisk(64 * 4096);
  auto queue = Open();
  ASSERT_TRUE(queue);
  ASSERT_TRUE(RunOne(*queue, {.op = BlockOp::kFlush}));
  grpc::ClientContext context;
  manager::v1::UnbindRequest request;
  request.set_token(token_);
  manager::v1::UnbindResponse response;
  ASSERT_TRUE(stub_->Unbind(&context, request, &response).ok());
  // The manager revokes asynchronously; from then on a request fails with
  // the host's reason, whether it went out before the notice arrived
  // (failed by the stop) or after (refused by Submit).
  Result<void> result;
  ASSERT_TRUE(WaitUntil([&] {
    result = RunOne(*queue, {.op = BlockOp::kFlush});
    return !result;
  }));
  EXPECT_EQ(result.error().code(), ErrorCode::kUnavailable);
  EXPECT_THAT(result.error().message(), HasSubstr("revoked"));
  ASSERT_TRUE(queue->stopped());
}

TEST_F(BlockQueueTest, AHostThatDiesFailsWhatIsInFlightInsteadOfHanging) {
  StartDisk(64 * 4096);
  auto queue = Open();
  ASSERT_TRUE(queue);
  ASSERT_TRUE(RunOne(*queue, {.op = BlockOp::kFlush}));
  auto node = FindNode("root.sys.disk");
  ASSERT_TRUE(node);
  pid_t host = HostPid(node->host());
  ASSERT_GT(host, 0);
  ASSERT_EQ(::kill(host, SIGSTOP), 0);  // Requests now sit in the ring.
  for (uint64_t i = 0; i < 8; ++i) ASSERT_TRUE(queue->Submit({.op = BlockOp::kFlush}, i));
  queue->Kick();
  ASSERT_EQ(::kill(host, SIGKILL), 0);
  int failed = 0;
  while (failed < 8) {
    size_t n = queue->Wait(
        [&](uint64_t, Result<void> r) {
          EXPECT_FALSE(r);
          if (!r) {
            EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
          }
          ++failed;
        },
        kWait);
    ASSERT_GT(n, 0u) << "the client must learn that the host is gone";
  }
  EXPECT_EQ(queue->in_flight(), 0);
}

// A client that writes garbage into its own ring loses its queue, and only
// that: the host stays up and other clients keep working. Built by hand
// from the public pieces, as a hostile client would.
TEST_F(BlockQueueTest, AHostileRingStopsOnlyThatQueue) {
  StartDisk(64 * 4096);
  auto shm = client::SharedMemory::Create(64 * 1024);
  ASSERT_TRUE(shm);
  auto region = shm->Attach(endpoint_, token_);
  ASSERT_TRUE(region) << region.error().ToString();
  int fds[2] = {::eventfd(0, EFD_CLOEXEC), ::eventfd(0, EFD_CLOEXEC)};
  auto id = client::SendSideMessage(shm->side_socket(),
                                    "queue " + std::to_string(*region) + " 0 8 " + token_, fds, 2);
  ASSERT_TRUE(id) << id.error().ToString();
  auto layout = virtio::SplitQueueLayout::For(8, 0);
  ASSERT_TRUE(layout);
  // avail->idx = 100: far past the 8 entries a ring of 8 can hold.
  uint16_t idx = 100;
  std::memcpy(shm->bytes().data() + layout->avail_offset + 2, &idx, sizeof(idx));
  ASSERT_EQ(::eventfd_write(fds[0], 1), 0);
  char line[512] = {};
  ssize_t n = ::recv(shm->side_socket(), line, sizeof(line) - 1, 0);  // Blocks until told.
  ASSERT_GT(n, 0);
  EXPECT_THAT(std::string(line), HasSubstr("stopped " + std::to_string(*id) + " 15 "));
  ::close(fds[0]);
  ::close(fds[1]);
  // The host is fine, and so is a well-behaved queue.
  auto queue = Open();
  ASSERT_TRUE(queue);
  EXPECT_TRUE(RunOne(*queue, {.op = BlockOp::kRead, .offset_blocks = 0, .length_blocks = 8}));
}

TEST_F(BlockQueueTest, TheSideSocketRefusesMalformedQueueRequests) {
  StartDisk(64 * 4096);
  auto shm = client::SharedMemory::Create(64 * 1024);
  ASSERT_TRUE(shm);
  auto region = shm->Attach(endpoint_, token_);
  ASSERT_TRUE(region);
  const std::string r = std::to_string(*region);
  int events[2] = {::eventfd(0, EFD_CLOEXEC), ::eventfd(0, EFD_CLOEXEC)};
  int not_events[2] = {shm->fd(), shm->fd()};
  struct Case {
    std::string message;
    int* fds;
    size_t count;
    ErrorCode code;
    std::string says;
  } cases[] = {
      {"queue " + r + " 0 8", events, 2, ErrorCode::kInvalidArgument, "queue <region id>"},
      {"queue x 0 8 " + token_, events, 2, ErrorCode::kInvalidArgument, "queue <region id>"},
      {"queue " + r + " 0 8 " + token_, events, 1, ErrorCode::kInvalidArgument, "two eventfds"},
      {"queue " + r + " 0 8 " + token_, not_events, 2, ErrorCode::kInvalidArgument, "eventfd"},
      {"queue " + r + " 0 6 " + token_, events, 2, ErrorCode::kInvalidArgument, "power of two"},
      {"queue " + r + " 0 4096 " + token_, events, 2, ErrorCode::kInvalidArgument, "at most"},
      {"queue " + r + " 32 8 " + token_, events, 2, ErrorCode::kInvalidArgument, "64-byte"},
      {"queue " + r + " 65472 8 " + token_, events, 2, ErrorCode::kInvalidArgument, "do not fit"},
      {"queue 999 0 8 " + token_, events, 2, ErrorCode::kNotFound, "no shared region"},
      {"queue " + r + " 0 8 bogus", events, 2, ErrorCode::kUnauthenticated, "token"},
  };
  for (const Case& c : cases) {
    auto answer = client::SendSideMessage(shm->side_socket(), c.message, c.fds, c.count);
    ASSERT_FALSE(answer) << c.message;
    EXPECT_EQ(answer.error().code(), c.code) << c.message << ": " << answer.error().ToString();
    EXPECT_THAT(answer.error().message(), HasSubstr(c.says)) << c.message;
  }
  ::close(events[0]);
  ::close(events[1]);
}

}  // namespace
}  // namespace trellis::testing
