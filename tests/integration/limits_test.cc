// The gRPC limits every server applies (runtime/rpc/server_limits.h),
// through real clients against a real manager and host: an oversized
// message or metadata fails that call with RESOURCE_EXHAUSTED, and the
// same connection keeps working for the next call.
#include <gmock/gmock.h>

#include "tests/integration/testing/disk_fixture.h"

namespace trellis::testing {
namespace {

class LimitsTest : public DiskFixture {};

TEST_F(LimitsTest, AMessageOfFourMebibytesPlusOneFailsOnlyItsCall) {
  StartDisk(64 * 4096);
  block::v1::WriteRequest request;
  request.set_offset_blocks(0);
  request.set_data(std::string(4 * 1024 * 1024 + 1, 'x'));
  block::v1::WriteResponse response;
  grpc::Status status = block_->Write(WithToken(token_).get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  // The same channel, and so the same connection, still works.
  EXPECT_EQ(Info().block_count(), 64u * 8);
}

TEST_F(LimitsTest, TheManagerRefusesAnOversizedBindAndKeepsServing) {
  StartDisk(64 * 4096);
  grpc::ClientContext context;
  manager::v1::BindRequest request;
  request.set_node_path(std::string(4 * 1024 * 1024 + 1, 'n'));
  request.set_protocol("trellis.block.v1.Block");
  manager::v1::BindResponse response;
  EXPECT_EQ(stub_->Bind(&context, request, &response).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(FindNode("root.sys.disk").has_value());
}

TEST_F(LimitsTest, A100kEntryMetadataFailsOnlyItsCall) {
  StartDisk(64 * 4096);
  auto context = WithToken(token_);
  for (int i = 0; i < 100'000; ++i) context->AddMetadata("x-" + std::to_string(i), "v");
  block::v1::GetInfoResponse response;
  grpc::Status status = block_->GetInfo(context.get(), {}, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  EXPECT_EQ(Info().block_count(), 64u * 8);
}

}  // namespace
}  // namespace trellis::testing
