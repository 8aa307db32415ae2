#include "tests/integration/testing/block_stream.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include "tests/integration/testing/power_cycle.h"

namespace trellis::testing {

using block::v1::BlockRequest;
using block::v1::BlockRequestBatch;
using block::v1::BlockResponse;
using block::v1::BlockResponseBatch;

std::string Pattern(size_t size, int seed) {
  std::string data(size, '\0');
  for (size_t i = 0; i < size; ++i) data[i] = static_cast<char>(seed * 13 + i * 7);
  return data;
}

StreamCheck RunStream(block::v1::Block::Stub* stub, const std::string& token, uint64_t blocks,
                      uint32_t block_size, int ops, int depth,
                      std::function<void(int)> after_completion) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->AddMetadata("trellis-token", token);
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  auto stream = stub->Stream(context.get());
  std::mt19937_64 rng(7);
  constexpr int kUnknown = -3;  // After a failed write.
  std::vector<int> expected(blocks, -1);                     // Seed of the last write, -1: zeroes.
  std::map<uint64_t, std::pair<uint64_t, int>> outstanding;  // id → (block, seed or -2 for read)
  std::vector<bool> busy(blocks, false);
  StreamCheck check;
  int issued = 0;
  auto bytes = [&](int seed, uint64_t block) {
    return Pattern(block_size, seed * 31 + int(block));
  };
  while (check.completed < ops) {
    BlockRequestBatch batch;  // Every request the depth allows, in one message.
    while (issued < ops && static_cast<int>(outstanding.size()) < depth) {
      uint64_t block = rng() % blocks;
      if (busy[block]) continue;
      busy[block] = true;
      BlockRequest& request = *batch.add_requests();
      request.set_request_id(static_cast<uint64_t>(issued));
      if (rng() % 2 == 0) {
        request.mutable_write()->set_offset_blocks(block);
        request.mutable_write()->set_data(bytes(issued, block));
        outstanding[request.request_id()] = {block, issued};
      } else {
        request.mutable_read()->set_offset_blocks(block);
        request.mutable_read()->set_length_blocks(1);
        outstanding[request.request_id()] = {block, -2};
      }
      ++issued;
    }
    if (batch.requests_size() > 0 && !stream->Write(batch)) return check;
    BlockResponseBatch responses;
    if (!stream->Read(&responses)) break;
    for (const BlockResponse& response : responses.responses()) {
      auto it = outstanding.find(response.request_id());
      if (it == outstanding.end()) {
        ++check.mismatches;  // An id answered twice or never asked.
        continue;
      }
      auto [block, seed] = it->second;
      outstanding.erase(it);
      busy[block] = false;
      ++check.completed;
      if (response.code() != 0) {
        ++check.failures;
        if (response.code() == grpc::StatusCode::DATA_LOSS) ++check.data_loss;
        // A write that failed leaves the block unknown until the next one.
        if (seed >= 0) expected[block] = kUnknown;
      } else if (seed >= 0) {
        expected[block] = seed;
      } else if (expected[block] != kUnknown) {
        std::string want =
            expected[block] < 0 ? std::string(block_size, '\0') : bytes(expected[block], block);
        if (response.data() != want) ++check.mismatches;
      }
      if (after_completion) after_completion(check.completed);
    }
  }
  stream->WritesDone();
  grpc::Status status = stream->Finish();
  EXPECT_TRUE(status.ok()) << status.error_message();
  return check;
}

StreamCheck RunStreamAcrossSuspends(const std::string& manager_endpoint,
                                    block::v1::Block::Stub* stub, const std::string& token,
                                    uint64_t blocks, uint32_t block_size) {
  // Suspend and resume twice while the stream keeps 32 requests in flight;
  // RunStream counts every id answered exactly once and checks the data.
  int cycles = 0;
  std::thread cycler;
  auto check = RunStream(stub, token, blocks, block_size, 4'000, 32, [&](int completed) {
    if (completed == 500 && !cycler.joinable()) {
      cycler = std::thread([&] { cycles = SuspendAndResume(manager_endpoint, 2); });
    }
  });
  if (cycler.joinable()) cycler.join();
  check.cycles = cycles;
  return check;
}

}  // namespace trellis::testing
