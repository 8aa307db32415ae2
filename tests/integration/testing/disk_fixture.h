// DiskFixture: a manager whose board has one uring-block disk on a sparse
// file, bound for Block by the test (token_, endpoint_, block_). Shared by
// the Block.Stream and block queue tests.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "tests/integration/testing/manager_fixture.h"
#include "trellis/block/v1/block.grpc.pb.h"

namespace trellis::testing {

class DiskFixture : public ManagerFixture {
 protected:
  // A `bytes`-byte file as node root.sys.disk, with `extra` properties
  // (JSON objects, comma-separated) for uring-block; binds it.
  void StartDisk(uint64_t bytes, const std::string& extra = "");
  block::v1::BlockInfo Info();

  std::filesystem::path image_;
  std::string token_;
  std::string endpoint_;
  std::unique_ptr<block::v1::Block::Stub> block_;
};

}  // namespace trellis::testing
