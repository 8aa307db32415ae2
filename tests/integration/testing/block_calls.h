// Unary Block calls for the integration tests (GPT, virtio-blk): a binding
// to a node's Block protocol and the calls made with its token.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "trellis/block/v1/block.grpc.pb.h"
#include "trellis/manager/v1/manager.grpc.pb.h"

namespace trellis::testing {

struct BlockBinding {
  std::string token;
  std::unique_ptr<block::v1::Block::Stub> stub;
};

// Binds to `path`'s Block protocol through the manager; fails the test on
// error.
BlockBinding BindBlock(manager::v1::DriverManager::Stub& manager, const std::string& path);

grpc::Status BlockWrite(BlockBinding& block, uint64_t offset, const std::string& data);
grpc::Status BlockRead(BlockBinding& block, uint64_t offset, uint32_t blocks, std::string* data);
grpc::Status BlockFlush(BlockBinding& block);
// The node's geometry; fails the test on error.
block::v1::BlockInfo BlockInfoOf(BlockBinding& block);

}  // namespace trellis::testing
