// The gRPC limits every server applies (runtime/rpc/server_limits.h),
// through real clients against a real manager and host: an oversized
// message or metadata fails that call with RESOURCE_EXHAUSTED, and the
// same connection keeps working for the next call; and the per-client caps
// on bindings, wake leases and subscriptions.
#include <gmock/gmock.h>

#include "tests/integration/testing/disk_fixture.h"
#include "trellis/power/v1/power.grpc.pb.h"

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
  // ~1 MB of headers is far past gRPC's hard limit: the server either
  // refuses the stream (RESOURCE_EXHAUSTED) or, if the client is still
  // writing the header block when it does, drops that connection
  // (UNAVAILABLE, "Broken pipe"). Either way only this call fails: the
  // next one, on the same channel, is served.
  EXPECT_THAT(status.error_code(),
              ::testing::AnyOf(grpc::StatusCode::RESOURCE_EXHAUSTED, grpc::StatusCode::UNAVAILABLE))
      << status.error_message();
  EXPECT_EQ(Info().block_count(), 64u * 8);
}

}  // namespace
}  // namespace trellis::testing

namespace trellis::testing {
namespace {

// Per-client caps: one process may hold kMaxBindingsPerClient bindings,
// 128 wake leases and 128 subscriptions on each host; past that its next one is refused with
// RESOURCE_EXHAUSTED, and releasing one makes room again.
class ClientCapsTest : public ManagerFixture {
 protected:
  void SetUp() override {
    StartManager(Board(EchoNode("echo", 0, 0)), {{"echo.json", EchoManifest()}});
    power_ = power::v1::Power::NewStub(
        grpc::CreateChannel(manager_->endpoint(), grpc::InsecureChannelCredentials()));
  }

  struct Lease {
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReader<power::v1::WakeLeaseEvent>> reader;
  };
  // Opens a lease stream; true if it was granted.
  bool Acquire(Lease& lease) {
    power::v1::AcquireWakeLeaseRequest request;
    request.set_name("cap test");
    lease.reader = power_->AcquireWakeLease(&lease.context, request);
    power::v1::WakeLeaseEvent event;
    return lease.reader->Read(&event) && event.has_granted();
  }

  std::unique_ptr<power::v1::Power::Stub> power_;
};

TEST_F(ClientCapsTest, AProcessHoldsAtMost128WakeLeases) {
  std::vector<std::unique_ptr<Lease>> leases;
  for (int i = 0; i < 128; ++i) {
    leases.push_back(std::make_unique<Lease>());
    ASSERT_TRUE(Acquire(*leases.back())) << "lease " << i;
  }
  Lease refused;
  EXPECT_FALSE(Acquire(refused));
  grpc::Status status = refused.reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), ::testing::HasSubstr("128 wake leases"));
  // Releasing one makes room (the release reaches the governor shortly).
  leases.back()->context.TryCancel();
  (void)leases.back()->reader->Finish();
  leases.pop_back();
  std::unique_ptr<Lease> again;
  EXPECT_TRUE(WaitUntil([&] {
    again = std::make_unique<Lease>();
    bool granted = Acquire(*again);
    if (!granted) (void)again->reader->Finish();
    return granted;
  }));
  for (auto& lease : leases) lease->context.TryCancel();
  if (again) again->context.TryCancel();
}

TEST_F(ClientCapsTest, AProcessHoldsAtMostItsBindingCap) {
  // Binds root.sys.echo's Device protocol; the token in *token.
  auto bind = [&](std::string* token) {
    grpc::ClientContext context;
    manager::v1::BindRequest request;
    request.set_node_path("root.sys.echo");
    request.set_protocol("trellis.device.v1.Device");
    manager::v1::BindResponse response;
    grpc::Status status = stub_->Bind(&context, request, &response);
    if (token != nullptr) *token = response.token();
    return status;
  };
  std::vector<std::string> tokens(manager::Manager::kMaxBindingsPerClient);
  for (size_t i = 0; i < tokens.size(); ++i) {
    grpc::Status status = bind(&tokens[i]);
    ASSERT_TRUE(status.ok()) << i << ": " << status.error_message();
  }
  grpc::Status status = bind(nullptr);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), ::testing::HasSubstr("Unbind some"));
  grpc::ClientContext unbind_context;
  manager::v1::UnbindRequest unbind;
  unbind.set_token(tokens.back());
  manager::v1::UnbindResponse unbound;
  ASSERT_TRUE(stub_->Unbind(&unbind_context, unbind, &unbound).ok());
  EXPECT_TRUE(bind(nullptr).ok());
}

TEST_F(ClientCapsTest, AProcessHoldsAtMost128SubscriptionsOnAHost) {
  Bound bound = BindDevice("root.sys.echo");
  struct Stream {
    std::unique_ptr<grpc::ClientContext> context;
    std::unique_ptr<grpc::ClientReader<device::v1::Upcall>> reader;
  };
  auto subscribe = [&](uint32_t minor) {
    Stream stream{.context = WithToken(bound.token, std::chrono::seconds(60))};
    device::v1::SubscribeRequest request;
    request.set_minor_num(minor);
    stream.reader = bound.device->Subscribe(stream.context.get(), request);
    return stream;
  };
  auto active = [&] {
    device::v1::CommandRequest request;
    request.set_minor_num(9);  // echo: how many of its subscriptions are active
    device::v1::CommandResponse response;
    grpc::Status status = bound.device->Command(WithToken(bound.token).get(), request, &response);
    return status.ok() ? response.value() : -1;
  };
  std::vector<Stream> streams;
  for (uint32_t i = 0; i < 128; ++i) {  // host::DeviceService::kMaxSubscriptionsPerProcess
    streams.push_back(subscribe(1000 + i));
  }
  ASSERT_TRUE(WaitUntil([&] { return active() == 128; })) << active();
  Stream refused = subscribe(2);
  device::v1::Upcall upcall;
  EXPECT_FALSE(refused.reader->Read(&upcall));
  grpc::Status status = refused.reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), ::testing::HasSubstr("128 subscriptions"));
  EXPECT_EQ(active(), 128) << "the others keep running";
  // Subscribing again to a minor it holds replaces, not adds.
  Stream replacement = subscribe(1000);
  EXPECT_FALSE(streams.front().reader->Read(&upcall));
  EXPECT_EQ(streams.front().reader->Finish().error_code(), grpc::StatusCode::ABORTED);
  // Cancelling one makes room.
  streams.back().context->TryCancel();
  (void)streams.back().reader->Finish();
  ASSERT_TRUE(WaitUntil([&] { return active() == 127; }));
  Stream again = subscribe(2);
  EXPECT_TRUE(WaitUntil([&] { return active() == 128; })) << "the new one was accepted";
  for (auto& stream : streams) stream.context->TryCancel();
  replacement.context->TryCancel();
  again.context->TryCancel();
}

}  // namespace
}  // namespace trellis::testing
