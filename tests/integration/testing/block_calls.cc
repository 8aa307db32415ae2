#include "tests/integration/testing/block_calls.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "tests/integration/testing/manager_fixture.h"

namespace trellis::testing {

BlockBinding BindBlock(manager::v1::DriverManager::Stub& manager, const std::string& path) {
  grpc::ClientContext context;
  manager::v1::BindRequest request;
  request.set_node_path(path);
  request.set_protocol("trellis.block.v1.Block");
  manager::v1::BindResponse response;
  grpc::Status status = manager.Bind(&context, request, &response);
  EXPECT_TRUE(status.ok()) << path << ": " << status.error_message();
  return {response.token(), block::v1::Block::NewStub(grpc::CreateChannel(
                                response.endpoint(), grpc::InsecureChannelCredentials()))};
}

grpc::Status BlockWrite(BlockBinding& block, uint64_t offset, const std::string& data) {
  block::v1::WriteRequest request;
  request.set_offset_blocks(offset);
  request.set_data(data);
  block::v1::WriteResponse response;
  return block.stub->Write(ManagerFixture::WithToken(block.token).get(), request, &response);
}

grpc::Status BlockRead(BlockBinding& block, uint64_t offset, uint32_t blocks, std::string* data) {
  block::v1::ReadRequest request;
  request.set_offset_blocks(offset);
  request.set_length_blocks(blocks);
  block::v1::ReadResponse response;
  grpc::Status status =
      block.stub->Read(ManagerFixture::WithToken(block.token).get(), request, &response);
  *data = response.data();
  return status;
}

grpc::Status BlockFlush(BlockBinding& block) {
  block::v1::FlushResponse response;
  return block.stub->Flush(ManagerFixture::WithToken(block.token).get(), {}, &response);
}

block::v1::BlockInfo BlockInfoOf(BlockBinding& block) {
  block::v1::GetInfoResponse response;
  grpc::Status status =
      block.stub->GetInfo(ManagerFixture::WithToken(block.token).get(), {}, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response.info();
}

}  // namespace trellis::testing
