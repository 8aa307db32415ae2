// The Block protocol through a real client, host and uring-block driver on
// a real file: unary calls, the pipelined Stream, errors, and suspend with
// I/O in flight.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <future>
#include <random>
#include <set>
#include <thread>

#include "tests/integration/testing/block_stream.h"
#include "tests/integration/testing/disk_fixture.h"
#include "tools/client/shared_memory.h"
#include "trellis/block/v1/block.grpc.pb.h"
#include "trellis/power/v1/power.grpc.pb.h"

namespace trellis::testing {
namespace {

namespace fs = std::filesystem;
using block::v1::BlockRequest;
using block::v1::BlockRequestBatch;
using block::v1::BlockResponse;
using block::v1::BlockResponseBatch;

class BlockTest : public DiskFixture {
 protected:
  grpc::Status Write(uint64_t offset, const std::string& data) {
    block::v1::WriteRequest request;
    request.set_offset_blocks(offset);
    request.set_data(data);
    block::v1::WriteResponse response;
    return block_->Write(WithToken(token_).get(), request, &response);
  }

  grpc::Status Read(uint64_t offset, uint32_t blocks, std::string* data) {
    block::v1::ReadRequest request;
    request.set_offset_blocks(offset);
    request.set_length_blocks(blocks);
    block::v1::ReadResponse response;
    grpc::Status status = block_->Read(WithToken(token_).get(), request, &response);
    *data = response.data();
    return status;
  }

  // Sends `requests` on one Stream, one message each, and returns the
  // responses by request id (RunStream sends batches).
  std::map<uint64_t, BlockResponse> StreamAll(const std::vector<BlockRequest>& requests,
                                              grpc::Status* status_out = nullptr) {
    auto context = WithToken(token_, std::chrono::seconds(30));
    auto stream = block_->Stream(context.get());
    for (const auto& request : requests) {
      BlockRequestBatch batch;
      *batch.add_requests() = request;
      EXPECT_TRUE(stream->Write(batch));
    }
    stream->WritesDone();
    std::map<uint64_t, BlockResponse> responses;
    BlockResponseBatch batch;
    while (stream->Read(&batch)) {
      for (const auto& response : batch.responses()) {
        EXPECT_FALSE(responses.contains(response.request_id())) << response.request_id();
        responses[response.request_id()] = response;
      }
    }
    grpc::Status status = stream->Finish();
    if (status_out != nullptr) {
      *status_out = status;
    } else {
      EXPECT_TRUE(status.ok()) << status.error_message();
    }
    return responses;
  }
};

TEST_F(BlockTest, InfoWriteReadFlushThroughTheHost) {
  StartDisk(1 << 20);
  auto info = Info();
  EXPECT_EQ(info.block_size(), 512u);
  EXPECT_EQ(info.block_count(), 2048u);
  EXPECT_FALSE(info.read_only());
  std::string data = Pattern(4096, 1);
  ASSERT_TRUE(Write(100, data).ok());
  block::v1::FlushResponse flushed;
  ASSERT_TRUE(block_->Flush(WithToken(token_).get(), {}, &flushed).ok());
  std::string read;
  ASSERT_TRUE(Read(100, 8, &read).ok());
  EXPECT_EQ(read, data);
  // The bytes are in the file where the blocks say.
  std::ifstream file(image_, std::ios::binary);
  file.seekg(100 * 512);
  std::string on_disk(4096, '\0');
  file.read(on_disk.data(), 4096);
  EXPECT_EQ(on_disk, data);
}

TEST_F(BlockTest, BadRequestsGetTheRightStatus) {
  StartDisk(64 * 512);
  std::string read;
  EXPECT_EQ(Read(63, 2, &read).error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_EQ(Read(0, 0, &read).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Write(0, std::string(100, 'x')).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Read(0, 1u << 20, &read).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  block::v1::GetInfoResponse info;
  EXPECT_EQ(block_->GetInfo(WithToken("bogus").get(), {}, &info).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(BlockTest, ReadOnlyDiskRefusesWritesWithPermissionDenied) {
  StartDisk(1 << 16, R"({"key": "block.read_only", "bool_value": true})");
  EXPECT_TRUE(Info().read_only());
  EXPECT_EQ(Write(0, std::string(512, 'x')).error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(BlockTest, TenThousandRandomStreamedWritesAndReadsAtDepth32Verify) {
  StartDisk(4096 * 4096, R"({"key": "block.block_size", "int_value": 4096})");
  auto check = RunStream(block_.get(), token_, 4096, 4096, 10'000, 32);
  EXPECT_EQ(check.completed, 10'000);
  EXPECT_EQ(check.failures, 0);
  EXPECT_EQ(check.mismatches, 0);
  // Inspect counts every request of the stream as one client request.
  manager::v1::InspectRequest inspect;
  inspect.set_node_prefix("root.sys.disk");
  manager::v1::InspectResponse counters;
  ASSERT_TRUE(Call(&manager::v1::DriverManager::Stub::Inspect, inspect, &counters).ok());
  ASSERT_EQ(counters.drivers_size(), 1);
  EXPECT_GE(counters.drivers(0).client_calls(), 10'000u);
}

// The host's reactor shortens, fails with EAGAIN or EIO, 2% of the reads and
// writes each, and shuffles every turn's completions (runtime/io_faults.h).
TEST_F(BlockTest, IoUringFaultsInTheHostLoseAndDuplicateNothing) {
  ASSERT_EQ(setenv("TRELLIS_TEST_IO_FAULTS", "11:20", 1), 0);
  StartDisk(4096 * 4096, R"({"key": "block.block_size", "int_value": 4096})");
  unsetenv("TRELLIS_TEST_IO_FAULTS");
  auto check = RunStream(block_.get(), token_, 4096, 4096, 10'000, 32);
  // Every request answered exactly once and no read returned wrong data;
  // the only failures are the injected EIOs (EAGAIN is retried, a short
  // transfer continued).
  EXPECT_EQ(check.completed, 10'000);
  EXPECT_EQ(check.mismatches, 0);
  EXPECT_GT(check.failures, 50);
  EXPECT_EQ(check.data_loss, check.failures);
  std::printf("10,000 requests, %d failed with DATA_LOSS (injected EIO)\n", check.failures);
  EXPECT_EQ(Info().block_size(), 4096u);  // The host is still serving.
}

TEST_F(BlockTest, StreamRefusesAnOversizedBatchAfterAnsweringEverythingBeforeIt) {
  StartDisk(1 << 20);
  auto context = WithToken(token_, std::chrono::seconds(30));
  auto stream = block_->Stream(context.get());
  BlockRequestBatch first;
  for (uint64_t id = 0; id < 4; ++id) {
    auto* read = first.add_requests();
    read->set_request_id(id);
    read->mutable_read()->set_offset_blocks(id);
    read->mutable_read()->set_length_blocks(1);
  }
  ASSERT_TRUE(stream->Write(first));
  BlockRequestBatch oversized;
  for (uint64_t id = 100; id < 100 + 257; ++id) {
    oversized.add_requests()->set_request_id(id);
  }
  (void)stream->Write(oversized);  // The host may already have ended the call.
  stream->WritesDone();
  std::set<uint64_t> answered;
  BlockResponseBatch batch;
  while (stream->Read(&batch)) {
    for (const auto& response : batch.responses()) {
      EXPECT_EQ(response.code(), 0) << response.message();
      answered.insert(response.request_id());
    }
  }
  grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), ::testing::HasSubstr("257 requests"));
  EXPECT_EQ(answered, (std::set<uint64_t>{0, 1, 2, 3}));
}

TEST_F(BlockTest, DirectIoStreamVerifies) {
  StartDisk(1024 * 4096, R"({"key": "block.direct", "bool_value": true})");
  EXPECT_EQ(Info().block_size(), 4096u);
  auto check = RunStream(block_.get(), token_, 1024, 4096, 2'000, 32);
  EXPECT_EQ(check.completed, 2'000);
  EXPECT_EQ(check.failures, 0);
  EXPECT_EQ(check.mismatches, 0);
}

TEST_F(BlockTest, SuspendWithIoInFlightLosesAndDuplicatesNothing) {
  StartDisk(1024 * 4096, R"({"key": "block.block_size", "int_value": 4096})");
  auto check = RunStreamAcrossSuspends(manager_->endpoint(), block_.get(), token_, 1024, 4096);
  EXPECT_EQ(check.completed, 4'000);
  EXPECT_EQ(check.failures, 0);
  EXPECT_EQ(check.mismatches, 0);
  EXPECT_EQ(check.cycles, 2) << "both suspends reached Suspended and resumed";
}

BlockRequest SharedRead(uint64_t id, uint64_t region, uint64_t block, uint32_t blocks,
                        uint64_t offset, uint64_t length) {
  BlockRequest request;
  request.set_request_id(id);
  request.mutable_read()->set_offset_blocks(block);
  request.mutable_read()->set_length_blocks(blocks);
  request.mutable_shm()->set_region_id(region);
  request.mutable_shm()->set_offset(offset);
  request.mutable_shm()->set_length(length);
  return request;
}

BlockRequest SharedWrite(uint64_t id, uint64_t region, uint64_t block, uint64_t offset,
                         uint64_t length) {
  BlockRequest request;
  request.set_request_id(id);
  request.mutable_write()->set_offset_blocks(block);
  request.mutable_shm()->set_region_id(region);
  request.mutable_shm()->set_offset(offset);
  request.mutable_shm()->set_length(length);
  return request;
}

TEST_F(BlockTest, SharedMemoryCarriesPayloadsBothWays) {
  StartDisk(4096 * 4096, R"({"key": "block.block_size", "int_value": 4096})");
  constexpr uint64_t kBlocks = 64;
  auto shm = client::SharedMemory::Create(2 * kBlocks * 4096);
  ASSERT_TRUE(shm) << shm.error().ToString();
  auto region = shm->Attach(endpoint_, token_);
  ASSERT_TRUE(region) << region.error().ToString();
  // The first half holds what is written; reads land in the second half.
  auto bytes = shm->bytes();
  for (size_t i = 0; i < kBlocks * 4096; ++i) bytes[i] = std::byte(i * 131 + 7);
  std::vector<BlockRequest> writes;
  for (uint64_t b = 0; b < kBlocks; ++b) {
    writes.push_back(SharedWrite(b, *region, 1000 + b * 3, b * 4096, 4096));
  }
  for (const auto& [id, response] : StreamAll(writes)) {
    EXPECT_EQ(response.code(), 0) << "write " << id << ": " << response.message();
    EXPECT_TRUE(response.data().empty());
  }
  std::vector<BlockRequest> reads;
  for (uint64_t b = 0; b < kBlocks; ++b) {
    reads.push_back(SharedRead(b, *region, 1000 + b * 3, 1, (kBlocks + b) * 4096, 4096));
  }
  auto responses = StreamAll(reads);
  ASSERT_EQ(responses.size(), kBlocks);
  for (const auto& [id, response] : responses) {
    EXPECT_EQ(response.code(), 0) << "read " << id << ": " << response.message();
    EXPECT_TRUE(response.data().empty()) << "the payload went through the region, not protobuf";
  }
  EXPECT_EQ(0, std::memcmp(bytes.data(), bytes.data() + kBlocks * 4096, kBlocks * 4096));
  // And the file has the bytes where the blocks say.
  std::ifstream file(image_, std::ios::binary);
  file.seekg(1003 * 4096);
  std::string on_disk(4096, '\0');
  file.read(on_disk.data(), 4096);
  EXPECT_EQ(0, std::memcmp(on_disk.data(), bytes.data() + 4096, 4096));
}

TEST_F(BlockTest, SharedRangesOutsideTheRegionOrOfTheWrongSizeAreRefused) {
  StartDisk(1024 * 4096, R"({"key": "block.block_size", "int_value": 4096})");
  auto shm = client::SharedMemory::Create(16 * 4096);
  ASSERT_TRUE(shm);
  auto region = shm->Attach(endpoint_, token_);
  ASSERT_TRUE(region) << region.error().ToString();
  auto responses = StreamAll({
      SharedRead(1, *region, 0, 1, 15 * 4096 + 1, 4096),      // Past the end.
      SharedRead(2, *region, 0, 1, ~uint64_t{0} - 10, 4096),  // Offset overflow.
      SharedRead(3, *region, 0, 2, 0, 4096),                  // Length != blocks.
      SharedWrite(4, *region, 0, 0, 100),                     // Not whole blocks.
      SharedRead(5, *region + 1000, 0, 1, 0, 4096),           // No such region.
      SharedRead(6, *region, 1024, 1, 0, 4096),               // Past the disk.
      SharedRead(7, *region, 0, 1, 0, 4096),                  // Fine.
  });
  auto code = [&](uint64_t id) { return static_cast<grpc::StatusCode>(responses[id].code()); };
  EXPECT_EQ(code(1), grpc::StatusCode::OUT_OF_RANGE) << responses[1].message();
  EXPECT_EQ(code(2), grpc::StatusCode::OUT_OF_RANGE) << responses[2].message();
  EXPECT_EQ(code(3), grpc::StatusCode::INVALID_ARGUMENT) << responses[3].message();
  EXPECT_EQ(code(4), grpc::StatusCode::INVALID_ARGUMENT) << responses[4].message();
  EXPECT_EQ(code(5), grpc::StatusCode::NOT_FOUND) << responses[5].message();
  EXPECT_EQ(code(6), grpc::StatusCode::OUT_OF_RANGE) << responses[6].message();
  EXPECT_EQ(code(7), grpc::StatusCode::OK) << responses[7].message();
  EXPECT_THAT(responses[1].message(), ::testing::HasSubstr("outside the 65536-byte shared region"));
}

TEST_F(BlockTest, SideSocketRefusesBadTokensUnsealedMemfdsAndExtraFds) {
  StartDisk(64 * 4096);
  auto side = client::ConnectSideSocket(endpoint_);
  ASSERT_TRUE(side) << side.error().ToString();
  auto shm = client::SharedMemory::Create(4096);
  ASSERT_TRUE(shm);
  int fd = shm->fd();
  auto bad_token = client::SendSideMessage(*side, "bogus", &fd, 1);
  ASSERT_FALSE(bad_token);
  EXPECT_EQ(bad_token.error().code(), ErrorCode::kUnauthenticated);
  // A memfd that could shrink under the host's mapping.
  int unsealed = ::memfd_create("unsealed", MFD_CLOEXEC);
  ASSERT_GE(unsealed, 0);
  ASSERT_EQ(::ftruncate(unsealed, 4096), 0);
  auto refused = client::SendSideMessage(*side, token_, &unsealed, 1);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(refused.error().message(), ::testing::HasSubstr("F_SEAL_SHRINK"));
  int two[2] = {fd, unsealed};
  auto extra = client::SendSideMessage(*side, token_, two, 2);
  ASSERT_FALSE(extra);
  EXPECT_THAT(extra.error().message(), ::testing::HasSubstr("exactly one memfd"));
  auto none = client::SendSideMessage(*side, token_, nullptr, 0);
  ASSERT_FALSE(none);
  // The connection still works for a good request.
  auto ok = client::SendSideMessage(*side, token_, &fd, 1);
  EXPECT_TRUE(ok) << ok.error().ToString();
  ::close(unsealed);
  ::close(*side);
}

TEST_F(BlockTest, ClosingTheSideConnectionReleasesItsRegions) {
  StartDisk(64 * 4096);
  uint64_t id;
  {
    auto shm = client::SharedMemory::Create(4096);
    ASSERT_TRUE(shm);
    auto region = shm->Attach(endpoint_, token_);
    ASSERT_TRUE(region);
    id = *region;
    EXPECT_EQ(StreamAll({SharedRead(1, id, 0, 8, 0, 4096)})[1].code(), 0);
  }  // Closes the side connection; the host detaches the region.
  EXPECT_TRUE(WaitUntil([&] {
    return StreamAll({SharedRead(1, id, 0, 8, 0, 4096)})[1].code() == grpc::StatusCode::NOT_FOUND;
  }));
}

}  // namespace
}  // namespace trellis::testing
