// Tests of BenchWorkload: offsets stay on the device and aligned, the
// operation mix, and the write payload.
#include "tools/trellisctl/bench_workload.h"

#include <gtest/gtest.h>

#include <set>

namespace trellis::tools {
namespace {

WorkloadOptions Options(BenchPattern pattern, BenchOp op, uint64_t block_count,
                        uint32_t request_blocks) {
  return {.pattern = pattern,
          .op = op,
          .block_size = 512,
          .block_count = block_count,
          .request_blocks = request_blocks};
}

uint64_t OffsetOf(const block::v1::BlockRequest& request) {
  return request.has_read() ? request.read().offset_blocks() : request.write().offset_blocks();
}

TEST(BenchWorkloadTest, RandomOffsetsAreAlignedAndInsideTheDevice) {
  // 103 blocks hold 12 whole 8-block requests; the last 7 blocks are never used.
  auto workload = BenchWorkload::Create(Options(BenchPattern::kRandom, BenchOp::kRead, 103, 8));
  ASSERT_TRUE(workload) << workload.error().ToString();
  std::set<uint64_t> offsets;
  for (int i = 0; i < 2000; ++i) {
    block::v1::BlockRequest request = workload->Next();
    ASSERT_TRUE(request.has_read());
    EXPECT_EQ(request.read().length_blocks(), 8u);
    uint64_t offset = OffsetOf(request);
    EXPECT_EQ(offset % 8, 0u);
    EXPECT_LE(offset + 8, 103u);
    offsets.insert(offset);
  }
  EXPECT_EQ(offsets.size(), 12u);  // Every slot is visited.
}

TEST(BenchWorkloadTest, SequentialOffsetsWrapBeforeTheEnd) {
  auto workload = BenchWorkload::Create(Options(BenchPattern::kSequential, BenchOp::kRead, 20, 8));
  ASSERT_TRUE(workload);
  std::vector<uint64_t> offsets;
  for (int i = 0; i < 5; ++i) offsets.push_back(OffsetOf(workload->Next()));
  EXPECT_EQ(offsets, (std::vector<uint64_t>{0, 8, 0, 8, 0}));
}

TEST(BenchWorkloadTest, WritesCarryTheRecognisablePatternOfTheRequestSize) {
  auto workload = BenchWorkload::Create(Options(BenchPattern::kSequential, BenchOp::kWrite, 4, 2));
  ASSERT_TRUE(workload);
  block::v1::BlockRequest request = workload->Next();
  ASSERT_TRUE(request.has_write());
  EXPECT_EQ(request.write().data().size(), 1024u);
  EXPECT_TRUE(request.write().data().starts_with("trellis bench trellis bench "));
}

TEST(BenchWorkloadTest, MixedSendsBothReadsAndWrites) {
  auto workload = BenchWorkload::Create(Options(BenchPattern::kRandom, BenchOp::kMixed, 64, 1));
  ASSERT_TRUE(workload);
  int writes = 0;
  for (int i = 0; i < 1000; ++i) writes += workload->Next().has_write() ? 1 : 0;
  EXPECT_GT(writes, 400);
  EXPECT_LT(writes, 600);
}

TEST(BenchWorkloadTest, RefusesRequestsLargerThanTheDevice) {
  auto workload = BenchWorkload::Create(Options(BenchPattern::kRandom, BenchOp::kRead, 4, 8));
  ASSERT_FALSE(workload);
  EXPECT_EQ(workload.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(workload.error().message(),
            "a request of 8 blocks does not fit on a device of 4 blocks");
}

TEST(BenchWorkloadTest, NamesAreTheCommandLineWords) {
  EXPECT_EQ(BenchPatternName(BenchPattern::kRandom), "rand");
  EXPECT_EQ(BenchPatternName(BenchPattern::kSequential), "seq");
  EXPECT_EQ(BenchOpName(BenchOp::kMixed), "mixed");
}

}  // namespace
}  // namespace trellis::tools
