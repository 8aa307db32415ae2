#include "tests/integration/testing/disk_fixture.h"

#include <fcntl.h>
#include <unistd.h>

namespace trellis::testing {

void DiskFixture::StartDisk(uint64_t bytes, const std::string& extra) {
  image_ = dir_.path() / "disk.img";
  int fd = ::open(image_.c_str(), O_CREAT | O_TRUNC | O_RDWR, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(bytes)), 0);
  ::close(fd);
  std::string node = R"({"name": "disk", "properties": [)"
                     R"({"key": "trellis.compatible", "string_value": "trellis,uring-block"},)"
                     R"({"key": "block.path", "string_value": ")" +
                     image_.string() + "\"}" + (extra.empty() ? "" : ", " + extra) + "]}";
  StartManager(Board(node), {{"uring-block.json", ShippedManifest("uring-block.json")}});
  grpc::ClientContext context;
  manager::v1::BindRequest request;
  request.set_node_path("root.sys.disk");
  request.set_protocol("trellis.block.v1.Block");
  manager::v1::BindResponse response;
  grpc::Status status = stub_->Bind(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  token_ = response.token();
  endpoint_ = response.endpoint();
  block_ = block::v1::Block::NewStub(
      grpc::CreateChannel(response.endpoint(), grpc::InsecureChannelCredentials()));
}

block::v1::BlockInfo DiskFixture::Info() {
  block::v1::GetInfoResponse response;
  grpc::Status status = block_->GetInfo(WithToken(token_).get(), {}, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response.info();
}

}  // namespace trellis::testing
