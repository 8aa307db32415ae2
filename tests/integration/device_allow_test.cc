// Device.Allow over real shared memory and Tock's return conventions,
// through real clients, hosts and drivers: the echo driver reads and writes
// a client's memory in place, read-only allows are mapped read-only, a
// driver loses a buffer once it is allowed again, a client that dies or is
// unbound gets everything taken back, and a driver that implements only
// Command answers UNIMPLEMENTED (Tock's NOSUPPORT) to the rest.
#include <gmock/gmock.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "tests/integration/testing/manager_fixture.h"
#include "tools/client/shared_memory.h"

extern char** environ;

namespace trellis::testing {
namespace {

using ::testing::HasSubstr;

class DeviceAllowTest : public ManagerFixture {
 protected:
  void SetUp() override {
    StartManager(Board(EchoNode("echo", 0, 0)), {{"echo.json", EchoManifest()}});
    bound_ = BindDevice("root.sys.echo");
  }

  Result<int64_t> Command(const Bound& bound, uint32_t minor, uint64_t a1 = 0, uint64_t a2 = 0) {
    device::v1::CommandRequest request;
    request.set_minor_num(minor);
    request.set_arg1(a1);
    request.set_arg2(a2);
    device::v1::CommandResponse response;
    grpc::Status status = bound.device->Command(WithToken(bound.token).get(), request, &response);
    if (!status.ok())
      return Fail(static_cast<ErrorCode>(status.error_code()), status.error_message());
    return response.value();
  }
  Result<int64_t> Command(uint32_t minor, uint64_t a1 = 0, uint64_t a2 = 0) {
    return Command(bound_, minor, a1, a2);
  }

  grpc::Status AllowShared(uint32_t minor, bool read_only, uint64_t region, uint64_t offset,
                           uint64_t length, device::v1::AllowResponse* response = nullptr) {
    device::v1::AllowRequest request;
    request.set_minor_num(minor);
    request.set_read_only(read_only);
    request.mutable_shm()->set_region_id(region);
    request.mutable_shm()->set_offset(offset);
    request.mutable_shm()->set_length(length);
    device::v1::AllowResponse ignored;
    return bound_.device->Allow(WithToken(bound_.token).get(), request,
                                response != nullptr ? response : &ignored);
  }

  // A 64 KiB region shared under bound_'s token.
  std::pair<client::SharedMemory, uint64_t> Share() {
    auto shm = client::SharedMemory::Create(64 * 1024);
    EXPECT_TRUE(shm);
    auto region = shm->Attach(bound_.endpoint, bound_.token);
    EXPECT_TRUE(region) << region.error().ToString();
    return {std::move(*shm), region.value_or(0)};
  }

  Bound bound_;
};

int64_t Word(const client::SharedMemory& shm, size_t offset) {
  int64_t value;
  std::memcpy(&value, shm.bytes().data() + offset, sizeof(value));
  return value;
}

TEST_F(DeviceAllowTest, TheDriverReadsAndWritesASharedBufferInPlace) {
  auto [shm, region] = Share();
  ASSERT_TRUE(AllowShared(5, false, region, 4096, 8192).ok());
  // Written by the client *after* the allow: only a mapping can see it.
  const int64_t written = 0x1122334455667788;
  std::memcpy(shm.bytes().data() + 4096 + 16, &written, sizeof(written));
  EXPECT_EQ(Command(5, 16), written);
  // And the driver's writes land in the client's memory.
  ASSERT_TRUE(Command(6, 24, 0x0a0b0c0d));
  EXPECT_EQ(Word(shm, 4096 + 24), 0x0a0b0c0d);
  auto past = Command(5, 8192 - 4);
  ASSERT_FALSE(past);
  EXPECT_EQ(past.error().code(), ErrorCode::kOutOfRange);
}

TEST_F(DeviceAllowTest, AllowingAgainReturnsTheRangeAndTheDriverLosesIt) {
  auto [shm, region] = Share();
  ASSERT_TRUE(AllowShared(5, false, region, 0, 4096).ok());
  ASSERT_TRUE(Command(6, 0, 7));
  device::v1::AllowResponse response;
  ASSERT_TRUE(AllowShared(5, false, region, 8192, 4096, &response).ok());
  ASSERT_TRUE(response.has_previous_shm());
  EXPECT_EQ(response.previous_shm().region_id(), region);
  EXPECT_EQ(response.previous_shm().offset(), 0u);
  EXPECT_EQ(response.previous_shm().length(), 4096u);
  ASSERT_TRUE(Command(6, 0, 9));
  EXPECT_EQ(Word(shm, 0), 7) << "the old range is no longer the driver's";
  EXPECT_EQ(Word(shm, 8192), 9);
  // A zero-length range un-allows: the driver has nothing on minor 5 now.
  ASSERT_TRUE(AllowShared(5, false, region, 0, 0, &response).ok());
  EXPECT_EQ(response.previous_shm().offset(), 8192u);
  auto gone = Command(5, 0);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(Command(4), 0) << "the driver holds no buffer";
}

TEST_F(DeviceAllowTest, BadRegionsAndRangesAreRefused) {
  auto [shm, region] = Share();
  EXPECT_EQ(AllowShared(5, false, region + 100, 0, 16).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(AllowShared(5, false, region, 60 * 1024, 8192).error_code(),
            grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_EQ(AllowShared(5, false, region, UINT64_MAX - 4, 16).error_code(),
            grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_EQ(Command(4), 0) << "nothing was allowed";
}

TEST_F(DeviceAllowTest, AReadOnlySharedBufferIsMappedReadOnlyInTheDriver) {
  auto [shm, region] = Share();
  ASSERT_TRUE(AllowShared(3, true, region, 0, 100).ok());
  EXPECT_EQ(Command(3), 100) << "the driver sees its size";
  auto node = FindNode("root.sys.echo");
  ASSERT_TRUE(node);
  pid_t host = HostPid(node->host());
  ASSERT_GT(host, 0);
  // The driver writes through a cast: the mapping faults, the host dies.
  auto wrote = Command(8);
  ASSERT_FALSE(wrote);
  EXPECT_EQ(wrote.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(shm.bytes()[0], std::byte{0}) << "the client's memory is unchanged";
  EXPECT_TRUE(WaitUntil([&] { return ::kill(host, 0) != 0; })) << "the host faulted";
}

TEST_F(DeviceAllowTest, AClientThatDiesGetsItsAllowsAndSubscriptionsTakenBack) {
  int out[2];
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  std::string endpoint = manager_->endpoint();
  std::string node = "root.sys.echo";
  char* argv[] = {const_cast<char*>(TRELLIS_DEVICE_PEER_BINARY), endpoint.data(), node.data(),
                  nullptr};
  pid_t peer = 0;
  ASSERT_EQ(posix_spawn(&peer, argv[0], &actions, nullptr, argv, environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  char ready[16] = {};
  ASSERT_GT(::read(out[0], ready, sizeof(ready) - 1), 0);
  ::close(out[0]);
  ASSERT_EQ(std::string(ready), "ready\n");
  EXPECT_EQ(Command(4), 2) << "the peer's shared and copied buffers";
  EXPECT_TRUE(WaitUntil([&] { return Command(9).value_or(0) == 1; })) << "the peer's subscription";
  ASSERT_EQ(::kill(peer, SIGKILL), 0);
  int status;
  ASSERT_EQ(::waitpid(peer, &status, 0), peer);
  EXPECT_TRUE(WaitUntil([&] { return Command(4).value_or(-1) == 0; }))
      << "the host took back the dead client's buffers";
  EXPECT_TRUE(WaitUntil([&] { return Command(9).value_or(-1) == 0; })) << "its subscription ended";
}

TEST_F(DeviceAllowTest, UnbindingTakesTheClientsBuffersBack) {
  Bound other = BindDevice("root.sys.echo");
  device::v1::AllowRequest request;
  request.set_minor_num(3);
  request.set_read_only(true);
  request.set_buffer("copied");
  device::v1::AllowResponse response;
  grpc::Status allowed = other.device->Allow(WithToken(other.token).get(), request, &response);
  ASSERT_TRUE(allowed.ok()) << allowed.error_code() << ": " << allowed.error_message();
  EXPECT_EQ(Command(4), 1);
  grpc::ClientContext context;
  manager::v1::UnbindRequest unbind;
  unbind.set_token(other.token);
  manager::v1::UnbindResponse unbound;
  ASSERT_TRUE(stub_->Unbind(&context, unbind, &unbound).ok());
  EXPECT_TRUE(WaitUntil([&] { return Command(4).value_or(-1) == 0; }));
}

TEST_F(DeviceAllowTest, MinorZeroNeverChangesTheDriversState) {
  auto before = Command(7);
  ASSERT_TRUE(before);
  for (int i = 0; i < 50; ++i) ASSERT_EQ(Command(0), 0);
  EXPECT_EQ(Command(7), *before) << "minor 0 is a pure presence check";
  ASSERT_TRUE(Command(1, 1, 1));
  EXPECT_EQ(Command(7), *before + 1) << "the counter does count";
}

// The misuse test driver implements Command only.
class DeviceNoSupportTest : public ManagerFixture {};

TEST_F(DeviceNoSupportTest, ADriverWithOnlyCommandAnswersUnimplementedToTheRest) {
  StartManager(Board(R"({"name": "m", "properties": [{"key": "trellis.compatible",
                                                      "string_value": "trellis,misuse"}]})"),
               {{"misuse.json", R"({"name": "misuse", "binary": "libmisuse_driver.so",
                   "bind": {"accept": [{"key": "trellis.compatible",
                                        "values": [{"string_value": "trellis,misuse"}]}]},
                   "exposes": ["trellis.device.v1.Device"]})"}});
  Bound bound = BindDevice("root.sys.m");
  device::v1::CommandRequest command;
  device::v1::CommandResponse value;
  EXPECT_TRUE(bound.device->Command(WithToken(bound.token).get(), command, &value).ok());
  device::v1::AllowRequest allow;
  allow.set_minor_num(1);
  allow.set_buffer("x");
  device::v1::AllowResponse allowed;
  grpc::Status status = bound.device->Allow(WithToken(bound.token).get(), allow, &allowed);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_THAT(status.error_message(), HasSubstr("allow"));
  device::v1::SubscribeRequest subscribe;
  subscribe.set_minor_num(1);
  auto context = WithToken(bound.token);
  auto stream = bound.device->Subscribe(context.get(), subscribe);
  device::v1::Upcall upcall;
  EXPECT_FALSE(stream->Read(&upcall));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNIMPLEMENTED);
}

}  // namespace
}  // namespace trellis::testing
