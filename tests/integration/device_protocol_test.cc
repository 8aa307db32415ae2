// The Device protocol (seed 001) through a real client, host and driver.
#include "tests/integration/testing/manager_fixture.h"

namespace trellis::testing {
namespace {

class DeviceProtocolTest : public ManagerFixture {
 protected:
  void SetUp() override {
    StartManager(Board(EchoNode("echo", 0, 0)), {{"echo.json", EchoManifest()}});
    bound_ = BindDevice("root.sys.echo");
  }
  grpc::Status Command(uint32_t minor, uint64_t a1, uint64_t a2, int64_t* value) {
    device::v1::CommandRequest request;
    request.set_minor_num(minor);
    request.set_arg1(a1);
    request.set_arg2(a2);
    device::v1::CommandResponse response;
    grpc::Status status = bound_.device->Command(WithToken(bound_.token).get(), request, &response);
    *value = response.value();
    return status;
  }
  Bound bound_;
};

TEST_F(DeviceProtocolTest, MinorZeroIsAPresenceCheckAndUnknownMinorsAreUnimplemented) {
  int64_t value = -1;
  ASSERT_TRUE(Command(0, 0, 0, &value).ok());
  EXPECT_EQ(value, 0);
  ASSERT_TRUE(Command(1, 2, 3, &value).ok());
  EXPECT_EQ(value, 5);
  EXPECT_EQ(Command(42, 0, 0, &value).error_code(), grpc::StatusCode::UNIMPLEMENTED);
}

TEST_F(DeviceProtocolTest, SecondSubscribeEndsTheFirstAndReceivesUpcalls) {
  device::v1::SubscribeRequest request;
  request.set_minor_num(2);
  auto first_context = WithToken(bound_.token);
  auto first = bound_.device->Subscribe(first_context.get(), request);
  // The initial metadata comes once the driver holds the subscription.
  first->WaitForInitialMetadata();
  int64_t value = 0;
  ASSERT_TRUE(Command(2, 1, 7, &value).ok());
  device::v1::Upcall upcall;
  ASSERT_TRUE(first->Read(&upcall));
  EXPECT_EQ(upcall.arg0(), 7u);

  auto second_context = WithToken(bound_.token);
  auto second = bound_.device->Subscribe(second_context.get(), request);
  // The first stream ends with ABORTED.
  while (first->Read(&upcall)) {
  }
  grpc::Status ended = first->Finish();
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::ABORTED) << ended.error_message();
  EXPECT_NE(ended.error_message().find("replaced"), std::string::npos);

  // Long work is started by a command and reported on the live subscription.
  ASSERT_TRUE(Command(2, 1, 42, &value).ok());
  EXPECT_EQ(value, 0) << "the command returns at once";
  ASSERT_TRUE(second->Read(&upcall));
  EXPECT_EQ(upcall.minor_num(), 2u);
  EXPECT_EQ(upcall.arg0(), 42u);
  EXPECT_EQ(upcall.arg1(), 2u) << "second job of this client";
  second_context->TryCancel();
  second->Finish();
}

TEST_F(DeviceProtocolTest, SubscribeToAnUnsupportedMinorFailsWithUnimplemented) {
  device::v1::SubscribeRequest request;
  request.set_minor_num(5);
  auto context = WithToken(bound_.token);
  auto stream = bound_.device->Subscribe(context.get(), request);
  device::v1::Upcall upcall;
  EXPECT_FALSE(stream->Read(&upcall));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNIMPLEMENTED);
}

TEST_F(DeviceProtocolTest, AllowReturnsThePreviousBuffer) {
  auto allow = [&](uint32_t minor, bool read_only, const std::string& data) {
    device::v1::AllowRequest request;
    request.set_minor_num(minor);
    request.set_read_only(read_only);
    request.set_buffer(data);
    device::v1::AllowResponse response;
    grpc::Status status = bound_.device->Allow(WithToken(bound_.token).get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.previous_buffer();
  };
  EXPECT_EQ(allow(3, true, "abc"), "");
  int64_t size = 0;
  ASSERT_TRUE(Command(3, 0, 0, &size).ok());
  EXPECT_EQ(size, 3) << "the driver sees the read-only buffer";
  EXPECT_EQ(allow(3, true, "defg"), "abc");
  EXPECT_EQ(allow(3, false, "rw"), "") << "read-write and read-only slots are separate";
  EXPECT_EQ(allow(3, true, ""), "defg") << "an empty allow un-shares and returns the buffer";
  ASSERT_TRUE(Command(3, 0, 0, &size).ok());
  EXPECT_EQ(size, 0);
}

}  // namespace
}  // namespace trellis::testing
