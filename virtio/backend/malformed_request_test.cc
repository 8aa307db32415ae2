// Malformed requests from a hostile frontend: each closes the connection
// with a log line naming the request and the reason, and the backend then
// serves a good connection.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include "virtio/backend/rng_device.h"
#include "virtio/backend/testing/backend_thread.h"
#include "virtio/backend/testing/test_driver.h"
#include "virtio/vhost_user/connection.h"

namespace trellis::virtio::backend {
namespace {

using namespace std::chrono_literals;
using testing::BackendThread;
using testing::TestDriver;
using vhost_user::Connection;
using vhost_user::Request;

vhost_user::Deadline Soon() { return vhost_user::Clock::now() + 5s; }

std::vector<std::byte> Raw(uint32_t request, uint32_t flags, std::vector<std::byte> payload) {
  vhost_user::Header h{request, flags, static_cast<uint32_t>(payload.size())};
  std::vector<std::byte> out(sizeof(h) + payload.size());
  std::memcpy(out.data(), &h, sizeof(h));
  if (!payload.empty()) std::memcpy(out.data() + sizeof(h), payload.data(), payload.size());
  return out;
}

std::vector<std::byte> MemTable(std::vector<vhost_user::MemoryRegion> regions, uint32_t count) {
  std::vector<std::byte> out(8 + regions.size() * 32);
  std::memcpy(out.data(), &count, 4);
  for (size_t i = 0; i < regions.size(); ++i) {
    uint64_t fields[4] = {regions[i].guest_phys_addr, regions[i].memory_size,
                          regions[i].userspace_addr, regions[i].mmap_offset};
    std::memcpy(out.data() + 8 + i * 32, fields, 32);
  }
  return out;
}

struct Case {
  std::string name;
  std::vector<std::byte> message;
  size_t fds;       // Copies of a 4096-byte memfd to attach.
  std::string log;  // Expected in the closing log line.
};

class MalformedRequestTest : public ::testing::TestWithParam<Case> {};

TEST_P(MalformedRequestTest, ClosesTheConnectionThenServesAGoodOne) {
  const Case& c = GetParam();
  auto backend = BackendThread::Start(std::make_unique<RngDevice>());
  ASSERT_TRUE(backend) << backend.error().ToString();
  int memfd = ::memfd_create("malformed", MFD_CLOEXEC);
  ASSERT_GE(memfd, 0);
  ASSERT_EQ(::ftruncate(memfd, 4096), 0);
  std::vector<int> fds(c.fds, memfd);
  {
    auto conn = Connection::Connect((*backend)->socket_path(), Soon());
    ASSERT_TRUE(conn) << conn.error().ToString();
    ASSERT_TRUE(conn->Send(c.message, fds, c.name, Soon()));
    std::byte byte;
    auto got = conn->Receive(std::span(&byte, 1), c.name, Soon());
    ASSERT_FALSE(got) << "the backend answered instead of closing";
    EXPECT_EQ(got.error().code(), ErrorCode::kUnavailable) << got.error().ToString();
  }
  ::close(memfd);
  ASSERT_TRUE((*backend)->WaitForLog("connection 1 closed", 5s)) << (*backend)->Log();
  const std::string log = (*backend)->Log();
  EXPECT_NE(log.find(c.log), std::string::npos) << log;
  EXPECT_NE(log.find("closing the connection"), std::string::npos) << log;

  auto driver = TestDriver::Connect({.socket_path = (*backend)->socket_path()});
  ASSERT_TRUE(driver) << driver.error().ToString();
  auto buffer = (*driver)->Allocate(64);
  ASSERT_TRUE(buffer);
  Buffer in{TestDriver::Address(*buffer), 64};
  ASSERT_TRUE((*driver)->queue(0).Add({}, std::span(&in, 1), nullptr));
  (*driver)->Kick(0);
  auto done = (*driver)->WaitCompletions(0, 1, 5s);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_TRUE(done[0].written);
}

std::vector<std::byte> U64(uint64_t v) { return vhost_user::EncodeU64(v); }
std::vector<std::byte> State(uint32_t index, uint32_t num) {
  return vhost_user::EncodeVringState({index, num});
}
constexpr uint32_t kV1 = vhost_user::kVersion;
uint32_t R(Request r) { return static_cast<uint32_t>(r); }

INSTANTIATE_TEST_SUITE_P(
    Cases, MalformedRequestTest,
    ::testing::Values(
        Case{"WrongSize", Raw(R(Request::kSetFeatures), kV1, std::vector<std::byte>(4)), 0,
             "SET_FEATURES: payload of 4 bytes, expected 8"},
        Case{"BadVersion", Raw(R(Request::kGetFeatures), 2, {}), 0, "GET_FEATURES: version 2"},
        Case{"ReplyFlag", Raw(R(Request::kGetFeatures), kV1 | vhost_user::kFlagReply, {}), 0,
             "GET_FEATURES: a request with the reply flag"},
        Case{"Oversized", Raw(R(Request::kSetOwner), kV1, std::vector<std::byte>(8192)), 0,
             "SET_OWNER: payload of 8192 bytes"},
        Case{"QueueIndexOutOfRange", Raw(R(Request::kSetVringNum), kV1, State(5, 16)), 0,
             "SET_VRING_NUM: queue index 5 out of range (1 queues)"},
        Case{"KickIndexOutOfRange", Raw(R(Request::kSetVringKick), kV1, U64(3)), 1,
             "SET_VRING_KICK: queue index 3 out of range"},
        Case{"KickWithoutFd", Raw(R(Request::kSetVringKick), kV1, U64(0)), 0,
             "SET_VRING_KICK: 0 file descriptors, expected 1"},
        Case{"FdsWithSetOwner", Raw(R(Request::kSetOwner), kV1, {}), 1,
             "SET_OWNER: 1 file descriptors, expected 0"},
        Case{"MemTableNoRegions", Raw(R(Request::kSetMemTable), kV1, MemTable({}, 0)), 0,
             "SET_MEM_TABLE: 0 regions"},
        Case{"MemTableCountMismatch",
             Raw(R(Request::kSetMemTable), kV1, MemTable({{0, 4096, 0, 0}}, 2)), 2,
             "SET_MEM_TABLE: payload of 40 bytes for 2 regions"},
        Case{"MemTableFdMismatch",
             Raw(R(Request::kSetMemTable), kV1, MemTable({{0, 4096, 0, 0}}, 1)), 0,
             "SET_MEM_TABLE: 0 file descriptors, expected 1"},
        Case{"MemTableZeroSize", Raw(R(Request::kSetMemTable), kV1, MemTable({{0, 0, 0, 0}}, 1)), 1,
             "SET_MEM_TABLE: region 0 has size 0"},
        Case{"MemTableOverlap",
             Raw(R(Request::kSetMemTable), kV1,
                 MemTable({{0, 4096, 0, 0}, {2048, 4096, 1 << 20, 0}}, 2)),
             2, "SET_MEM_TABLE: region 1 overlaps region 0 in guest-physical addresses"},
        Case{"MemTableOverflow",
             Raw(R(Request::kSetMemTable), kV1, MemTable({{~uint64_t{0} - 10, 4096, 0, 0}}, 1)), 1,
             "SET_MEM_TABLE: region 0 overflows 64 bits"},
        Case{"MemTableBeyondFile",
             Raw(R(Request::kSetMemTable), kV1, MemTable({{0, 1 << 20, 0, 0}}, 1)), 1,
             "SET_MEM_TABLE region 0: its file has 4096 bytes"},
        Case{"UnknownRequest", Raw(99, kV1, {}), 0, "request 99: unknown request"}),
    [](const auto& info) { return info.param.name; });

TEST(MalformedRequestMiscTest, UnknownRequestWithNeedReplyIsRefusedAndTheConnectionStays) {
  auto backend = BackendThread::Start(std::make_unique<RngDevice>());
  ASSERT_TRUE(backend) << backend.error().ToString();
  auto conn = Connection::Connect((*backend)->socket_path(), Soon());
  ASSERT_TRUE(conn) << conn.error().ToString();
  ASSERT_TRUE(conn->Send(Raw(99, kV1 | vhost_user::kFlagNeedReply, U64(7)), {}, "99", Soon()));
  std::byte reply[vhost_user::kHeaderSize + 8];
  ASSERT_TRUE(conn->Receive(reply, "99", Soon()));
  auto header = vhost_user::DecodeHeader(
      std::span<const std::byte, vhost_user::kHeaderSize>(reply, vhost_user::kHeaderSize));
  EXPECT_EQ(header.request, 99u);
  EXPECT_TRUE(header.flags & vhost_user::kFlagReply);
  uint64_t ack;
  std::memcpy(&ack, reply + vhost_user::kHeaderSize, 8);
  EXPECT_EQ(ack, 1u);
  // Still talking.
  ASSERT_TRUE(conn->Send(Raw(R(Request::kGetFeatures), kV1, {}), {}, "GET_FEATURES", Soon()));
  ASSERT_TRUE(conn->Receive(reply, "GET_FEATURES", Soon()));
  EXPECT_TRUE((*backend)->WaitForLog("request 99: unknown request; refused", 5s));
}

TEST(MalformedRequestMiscTest, HalfAMessageTimesOutAndCloses) {
  auto backend = BackendThread::Start(std::make_unique<RngDevice>(),
                                      {.io_timeout = std::chrono::milliseconds(100)});
  ASSERT_TRUE(backend) << backend.error().ToString();
  auto conn = Connection::Connect((*backend)->socket_path(), Soon());
  ASSERT_TRUE(conn);
  auto message = Raw(R(Request::kSetFeatures), kV1, U64(0));
  message.erase(message.end() - 3, message.end());  // (resize trips GCC's -Wstringop-overflow at -O1)
  ASSERT_TRUE(conn->Send(message, {}, "half", Soon()));
  std::byte byte;
  auto got = conn->Receive(std::span(&byte, 1), "half", Soon());
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code(), ErrorCode::kUnavailable);
  EXPECT_TRUE((*backend)->WaitForLog("timed out", 5s)) << (*backend)->Log();
}

}  // namespace
}  // namespace trellis::virtio::backend
