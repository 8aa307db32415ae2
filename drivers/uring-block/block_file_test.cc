// BlockFile against real files on the runtime's real io_uring reactor.
#include "drivers/uring-block/block_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <future>
#include <random>

#include "runtime/runtime.h"
#include "runtime/testing/run_on.h"

namespace trellis::uring_block {
namespace {

namespace fs = std::filesystem;

class BlockFileTest : public ::testing::Test {
 protected:
  explicit BlockFileTest(RuntimeOptions options = {.threads = 2})
      : runtime_(Runtime::Create(std::move(options)).value()),
        dispatcher_(Dispatcher::Create(*runtime_, {.name = "block", .power_managed = true})) {
    // Not tmpfs: O_DIRECT needs a real file system.
    std::string pattern = (fs::path("/var/tmp") / "trellis-block-XXXXXX").string();
    dir_ = mkdtemp(pattern.data());
    path_ = dir_ / "disk.img";
  }
  ~BlockFileTest() override {
    Run([&] { file_.reset(); });
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  template <typename Fn>
  auto Run(Fn fn) -> decltype(fn()) {
    return testing::RunOn(dispatcher_.borrow(), std::move(fn));
  }

  void MakeFile(uint64_t bytes) {
    int fd = ::open(path_.c_str(), O_CREAT | O_TRUNC | O_RDWR, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(bytes)), 0);
    ::close(fd);
  }

  Result<void> Open(BlockFileOptions options) {
    options.path = path_.string();
    return Run([&]() -> Result<void> {
      auto opened = BlockFile::Open(runtime_->reactor(), dispatcher_.borrow(), options);
      if (!opened) return Fail(opened.error());
      file_ = std::move(*opened);
      return Ok();
    });
  }

  // Submits and waits for one request.
  Result<void> Do(BlockRequest request) {
    std::promise<Result<void>> done;
    Run([&] { file_->Submit(request, [&](Result<void> r) { done.set_value(std::move(r)); }); });
    return done.get_future().get();
  }

  std::unique_ptr<Runtime> runtime_;
  Dispatcher dispatcher_;
  fs::path dir_;
  fs::path path_;
  std::unique_ptr<BlockFile> file_;
};

std::vector<std::byte> Pattern(size_t size, uint8_t seed) {
  std::vector<std::byte> data(size);
  for (size_t i = 0; i < size; ++i) data[i] = std::byte(static_cast<uint8_t>(seed + i * 7));
  return data;
}

TEST_F(BlockFileTest, InfoReflectsTheFileAndOptions) {
  MakeFile(1 << 20);
  ASSERT_TRUE(Open({.block_size = 4096, .read_only = true}));
  BlockInfo info = Run([&] { return file_->Info(); });
  EXPECT_EQ(info.block_size, 4096u);
  EXPECT_EQ(info.block_count, 256u);
  EXPECT_TRUE(info.read_only);
  EXPECT_EQ(info.max_transfer_size, 128u * 1024);
  EXPECT_TRUE(Run([&] { return file_->uses_fixed_file() && file_->uses_fixed_buffer(); }));
}

TEST_F(BlockFileTest, WrittenBlocksReadBackAndFlushSucceeds) {
  MakeFile(1 << 20);
  ASSERT_TRUE(Open({}));
  auto written = Pattern(8192, 3);
  ASSERT_TRUE(Do({.op = BlockOp::kWrite, .offset_blocks = 10, .length_blocks = 16, .data = written}));
  ASSERT_TRUE(Do({.op = BlockOp::kFlush}));
  std::vector<std::byte> read(8192);
  ASSERT_TRUE(Do({.op = BlockOp::kRead, .offset_blocks = 10, .length_blocks = 16, .data = read}));
  EXPECT_EQ(read, written);
}

TEST_F(BlockFileTest, RequestsOutsideTheDeviceAreRefusedWithTheRightCode) {
  MakeFile(64 * 512);
  ASSERT_TRUE(Open({}));
  std::vector<std::byte> buffer(1024);
  auto past = Do({.op = BlockOp::kRead, .offset_blocks = 63, .length_blocks = 2, .data = buffer});
  ASSERT_FALSE(past);
  EXPECT_EQ(past.error().code(), ErrorCode::kOutOfRange);
  auto wrong_size = Do({.op = BlockOp::kRead, .offset_blocks = 0, .length_blocks = 1, .data = buffer});
  ASSERT_FALSE(wrong_size);
  EXPECT_EQ(wrong_size.error().code(), ErrorCode::kInvalidArgument);
  auto huge = Do({.op = BlockOp::kDiscard, .offset_blocks = 1, .length_blocks = UINT64_MAX});
  ASSERT_FALSE(huge);
  EXPECT_EQ(huge.error().code(), ErrorCode::kOutOfRange);
}

TEST_F(BlockFileTest, ReadOnlyDeviceRefusesWrites) {
  MakeFile(1 << 16);
  ASSERT_TRUE(Open({.read_only = true}));
  std::vector<std::byte> buffer(512);
  auto write = Do({.op = BlockOp::kWrite, .offset_blocks = 0, .length_blocks = 1, .data = buffer});
  ASSERT_FALSE(write);
  EXPECT_EQ(write.error().code(), ErrorCode::kPermissionDenied);
}

TEST_F(BlockFileTest, WriteZeroesAndDiscardLeaveZeroes) {
  MakeFile(1 << 16);
  ASSERT_TRUE(Open({}));
  auto ones = std::vector<std::byte>(4096, std::byte{0xff});
  ASSERT_TRUE(Do({.op = BlockOp::kWrite, .offset_blocks = 0, .length_blocks = 8, .data = ones}));
  ASSERT_TRUE(Do({.op = BlockOp::kWriteZeroes, .offset_blocks = 0, .length_blocks = 4}));
  ASSERT_TRUE(Do({.op = BlockOp::kDiscard, .offset_blocks = 4, .length_blocks = 4}));
  std::vector<std::byte> read(4096, std::byte{1});
  ASSERT_TRUE(Do({.op = BlockOp::kRead, .offset_blocks = 0, .length_blocks = 8, .data = read}));
  EXPECT_EQ(read, std::vector<std::byte>(4096, std::byte{0}));
}

TEST_F(BlockFileTest, AFileThatShrankGivesEioNotSilence) {
  MakeFile(1 << 16);
  ASSERT_TRUE(Open({}));
  ASSERT_EQ(::truncate(path_.c_str(), 4096), 0);
  std::vector<std::byte> read(512);
  auto result = Do({.op = BlockOp::kRead, .offset_blocks = 100, .length_blocks = 1, .data = read});
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().errno_value(), EIO);
  EXPECT_NE(result.error().message().find("block 100"), std::string::npos);
}

struct TrafficResult {
  int completions = 0;  // Calls of `done`, over all requests.
  int failures = 0;
  int mismatches = 0;   // Reads that succeeded with the wrong data.
};

// Many requests at depth 32 through BlockFile's queue: every one completes
// exactly once, and each block holds what its last write put there. A write
// that failed leaves its block unknown (EIO: the state is unknown) until the
// next write that succeeds.
TrafficResult RandomTraffic(std::unique_ptr<BlockFile>& file,
                            std::function<void(std::function<void()>)> run) {
  constexpr uint64_t kBlocks = 2048;
  constexpr uint32_t kUnknown = UINT32_MAX;
  constexpr int kOps = 10'000;
  constexpr int kDepth = 32;
  BlockInfo info;
  run([&] { info = file->Info(); });
  const size_t bs = info.block_size;
  std::vector<uint32_t> expected(kBlocks, 0);  // Seed written per block (0: zeroes).
  std::mt19937_64 rng(42);
  std::promise<void> all_done;
  int remaining = kOps;
  TrafficResult result;
  struct Op {
    BlockRequest request;
    std::vector<std::byte> data;
    uint32_t seed;
  };
  std::vector<std::unique_ptr<Op>> ops;
  // Blocks in flight are never touched twice at once, so the check is exact.
  std::vector<bool> busy(kBlocks, false);
  std::function<void()> issue;
  int issued = 0;
  auto block_bytes = [&](uint32_t seed, uint64_t block) {
    std::vector<std::byte> data(bs);
    for (size_t i = 0; i < bs; ++i) data[i] = std::byte(static_cast<uint8_t>(seed * 31 + block + i));
    return data;
  };
  issue = [&] {
    // Depth counts requests the test has outstanding (in the kernel or
    // queued inside BlockFile), as a client at depth 32 would.
    while (issued < kOps && issued - (kOps - remaining) < kDepth) {
      uint64_t block = rng() % kBlocks;
      if (busy[block]) continue;
      busy[block] = true;
      ++issued;
      auto op = std::make_unique<Op>();
      bool write = rng() % 2 == 0;
      op->seed = static_cast<uint32_t>(issued);
      op->data = write ? block_bytes(op->seed, block) : std::vector<std::byte>(bs);
      op->request = {.op = write ? BlockOp::kWrite : BlockOp::kRead, .offset_blocks = block,
                     .length_blocks = 1, .data = op->data};
      Op* raw = op.get();
      ops.push_back(std::move(op));
      file->Submit(raw->request, [&, raw, block, write](Result<void> r) {
        busy[block] = false;
        ++result.completions;
        if (!r) {
          ++result.failures;
          if (write) expected[block] = kUnknown;
        } else if (write) {
          expected[block] = raw->seed;
        } else if (expected[block] != kUnknown) {
          auto want = expected[block] == 0 ? std::vector<std::byte>(bs)
                                           : block_bytes(expected[block], block);
          if (raw->data != want) ++result.mismatches;
        }
        raw->data.clear();
        if (--remaining == 0) {
          all_done.set_value();
          return;
        }
        issue();
      });
    }
  };
  run([&] { issue(); });
  all_done.get_future().get();
  return result;
}

void ExpectClean(const TrafficResult& result) {
  EXPECT_EQ(result.completions, 10'000);
  EXPECT_EQ(result.failures, 0);
  EXPECT_EQ(result.mismatches, 0);
}

TEST_F(BlockFileTest, TenThousandRandomWritesAndReadsAtDepth32Verify) {
  MakeFile(2048 * 4096);
  ASSERT_TRUE(Open({.block_size = 4096, .queue_depth = 8}));
  ExpectClean(RandomTraffic(file_, [&](std::function<void()> fn) { Run(std::move(fn)); }));
  EXPECT_GT(Run([&] { return file_->stats().queued; }), 0u);
}

TEST_F(BlockFileTest, DirectIoVerifiesToo) {
  MakeFile(2048 * 4096);
  auto opened = Open({.direct = true, .queue_depth = 32});
  ASSERT_TRUE(opened) << opened.error().ToString();
  EXPECT_EQ(Run([&] { return file_->Info().block_size; }), 4096u);
  ExpectClean(RandomTraffic(file_, [&](std::function<void()> fn) { Run(std::move(fn)); }));
}

// The reactor's fault hook (runtime/io_faults.h) shortens 3% of reads and
// writes, answers EAGAIN to 3% and EIO to 3%, and shuffles every turn's
// completions.
class BlockFileFaultTest : public BlockFileTest {
 protected:
  BlockFileFaultTest() : BlockFileTest(WithFaults()) {}
  static RuntimeOptions WithFaults() {
    RuntimeOptions options{.threads = 2};
    faults_ = std::make_shared<SeededIoFaults>(/*seed=*/8, /*per_mille=*/30);
    options.reactor.io_faults = faults_;
    return options;
  }
  static inline std::shared_ptr<SeededIoFaults> faults_;
};

TEST_F(BlockFileFaultTest, ShortTransfersEagainEioAndReorderingLoseAndDuplicateNothing) {
  MakeFile(2048 * 4096);
  ASSERT_TRUE(Open({.block_size = 4096, .queue_depth = 16}));
  TrafficResult result =
      RandomTraffic(file_, [&](std::function<void()> fn) { Run(std::move(fn)); });
  IoFaultCounts faults = faults_->counts();
  BlockFileStats stats = Run([&] { return file_->stats(); });
  // Every request answered once; only the faked EIOs failed (EAGAIN is
  // retried, a short transfer continued); no read returned wrong data.
  EXPECT_EQ(result.completions, 10'000);
  EXPECT_EQ(result.mismatches, 0);
  EXPECT_EQ(static_cast<uint64_t>(result.failures), faults.eio);
  EXPECT_EQ(stats.errors, faults.eio);
  EXPECT_EQ(stats.retried, faults.eagain);
  EXPECT_GE(stats.resubmitted, faults.shortened);
  EXPECT_GT(faults.shortened, 100u);
  EXPECT_GT(faults.eagain, 100u);
  EXPECT_GT(faults.eio, 100u);
  EXPECT_GT(faults.reordered_turns, 0u);
  std::printf("io faults: %lu seen, %lu short, %lu EAGAIN, %lu EIO, %lu turns reordered\n",
              faults.seen, faults.shortened, faults.eagain, faults.eio, faults.reordered_turns);
}

TEST(SeededIoFaultsTest, SpecsAreCheckedAndNamed) {
  EXPECT_TRUE(SeededIoFaults::FromSpec("7:50"));
  for (const char* bad : {"", "7", "7:", ":5", "x:5", "7:5x", "7:334"}) {
    auto parsed = SeededIoFaults::FromSpec(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(parsed.error().message().find(std::string("'") + bad + "'"), std::string::npos);
  }
}

TEST_F(BlockFileTest, QuiesceDrainsInFlightAndHoldsNewRequestsUntilUnquiesce) {
  MakeFile(1 << 20);
  ASSERT_TRUE(Open({.queue_depth = 4}));
  constexpr int kRequests = 16;
  std::vector<std::vector<std::byte>> buffers(kRequests, std::vector<std::byte>(512));
  std::atomic<int> completed{0};
  std::promise<size_t> drained;
  Run([&] {
    for (int i = 0; i < kRequests; ++i) {
      file_->Submit({.op = BlockOp::kRead, .offset_blocks = static_cast<uint64_t>(i),
                     .length_blocks = 1, .data = buffers[i]},
                    [&](Result<void> r) { completed += r ? 1 : 1000; });
    }
    file_->Quiesce([&] { drained.set_value(file_->in_flight()); });
  });
  EXPECT_EQ(drained.get_future().get(), 0u);
  // The four in flight finished; the twelve queued did not start.
  EXPECT_EQ(Run([&] { return completed.load(); }), 4);
  Run([&] { file_->Unquiesce(); });
  std::promise<void> later;
  Run([&] { file_->Submit({.op = BlockOp::kFlush}, [&](Result<void>) { later.set_value(); }); });
  later.get_future().get();
  EXPECT_EQ(Run([&] { return completed.load(); }), kRequests);
}

TEST_F(BlockFileTest, BadOptionsNameTheOption) {
  MakeFile(4096);
  auto depth = Open({.queue_depth = 0});
  ASSERT_FALSE(depth);
  EXPECT_NE(depth.error().message().find("queue_depth"), std::string::npos);
  auto size = Open({.block_size = 1000});
  ASSERT_FALSE(size);
  EXPECT_NE(size.error().message().find("block_size"), std::string::npos);
  fs::remove(path_);
  auto missing = Open({});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(missing.error().message().find(path_.string()), std::string::npos);
}

}  // namespace
}  // namespace trellis::uring_block
