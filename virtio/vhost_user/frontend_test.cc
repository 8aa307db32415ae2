// VhostUserFrontend against a real qemu-storage-daemon (handshake, config,
// a backend that dies) and against fake backends that hang or answer wrong.
#include "virtio/vhost_user/frontend.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <functional>
#include <thread>

#include "virtio/vhost_user/testing/storage_daemon.h"
#include "virtio/features.h"

namespace trellis::vhost_user {
namespace {

using testing::StorageDaemon;
using namespace std::chrono_literals;

constexpr uint64_t kFrontendImageSize = 8 << 20;

bool Has(uint64_t bits, unsigned bit) { return (bits >> bit) & 1; }

std::string TempDir() {
  std::string pattern = "/tmp/trellis-vhost-XXXXXX";
  EXPECT_NE(::mkdtemp(pattern.data()), nullptr);
  return pattern;
}

// A listening Unix socket standing in for a backend. `serve`, if given, runs
// on a thread with the first accepted connection; without it nothing ever
// accepts (connects still succeed: they wait in the listen queue).
class FakeBackend {
 public:
  explicit FakeBackend(std::function<void(int)> serve = nullptr) : dir_(TempDir()) {
    path_ = dir_ + "/fake.sock";
    listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, path_.c_str());
    EXPECT_EQ(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(listen_fd_, 4), 0);
    if (serve) {
      thread_ = std::thread([this, serve = std::move(serve)] {
        int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) return;
        serve(fd);
        ::close(fd);
      });
    }
  }
  ~FakeBackend() {
    ::shutdown(listen_fd_, SHUT_RDWR);  // Wakes an accept that never got a client.
    if (thread_.joinable()) thread_.join();
    ::close(listen_fd_);
    std::filesystem::remove_all(dir_);
  }
  const std::string& path() const { return path_; }

 private:
  std::string dir_;
  std::string path_;
  int listen_fd_ = -1;
  std::thread thread_;
};

// Serves one request by reading its header and payload and writing `reply`.
std::function<void(int)> AnswerWith(Header header, std::vector<std::byte> payload) {
  return [=](int fd) {
    Header request;
    if (::recv(fd, &request, sizeof(request), MSG_WAITALL) != sizeof(request)) return;
    std::vector<std::byte> ignored(request.size);
    if (request.size > 0) (void)::recv(fd, ignored.data(), ignored.size(), MSG_WAITALL);
    std::vector<std::byte> out(sizeof(header));
    std::memcpy(out.data(), &header, sizeof(header));
    out.insert(out.end(), payload.begin(), payload.end());
    (void)::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
    // Hold the connection until the frontend closes it.
    char byte;
    (void)::recv(fd, &byte, 1, 0);
  };
}

class FrontendDaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!StorageDaemon::Available()) GTEST_SKIP() << StorageDaemon::kMissing;
    auto daemon = StorageDaemon::Start({.image_size = kFrontendImageSize});
    ASSERT_TRUE(daemon) << daemon.error().ToString();
    daemon_ = std::move(*daemon);
    auto frontend = VhostUserFrontend::Connect(daemon_->socket_path());
    ASSERT_TRUE(frontend) << frontend.error().ToString();
    frontend_.emplace(std::move(*frontend));
  }

  // GET_FEATURES .. SET_OWNER as QEMU does it; returns the offered features.
  uint64_t Handshake() {
    auto features = frontend_->GetFeatures();
    EXPECT_TRUE(features) << features.error().ToString();
    auto protocol = frontend_->GetProtocolFeatures();
    EXPECT_TRUE(protocol) << protocol.error().ToString();
    uint64_t wanted = (1ull << kProtocolFeatureMq) | (1ull << kProtocolFeatureReplyAck) |
                      (1ull << kProtocolFeatureConfig);
    auto set = frontend_->SetProtocolFeatures(protocol.value_or(0) & wanted);
    EXPECT_TRUE(set) << set.error().ToString();
    auto owner = frontend_->SetOwner();
    EXPECT_TRUE(owner) << owner.error().ToString();
    return features.value_or(0);
  }

  std::unique_ptr<StorageDaemon> daemon_;
  std::optional<VhostUserFrontend> frontend_;
};

TEST_F(FrontendDaemonTest, HandshakeOffersVersion1ProtocolFeaturesAndConfig) {
  auto features = frontend_->GetFeatures();
  ASSERT_TRUE(features) << features.error().ToString();
  EXPECT_TRUE(Has(*features, virtio::VIRTIO_F_VERSION_1)) << std::hex << *features;
  EXPECT_TRUE(Has(*features, kFeatureProtocolFeatures)) << std::hex << *features;

  auto protocol = frontend_->GetProtocolFeatures();
  ASSERT_TRUE(protocol) << protocol.error().ToString();
  EXPECT_TRUE(Has(*protocol, kProtocolFeatureConfig)) << std::hex << *protocol;
  EXPECT_TRUE(Has(*protocol, kProtocolFeatureReplyAck)) << std::hex << *protocol;

  ASSERT_TRUE(frontend_->SetProtocolFeatures(*protocol & ((1ull << kProtocolFeatureMq) |
                                                          (1ull << kProtocolFeatureReplyAck) |
                                                          (1ull << kProtocolFeatureConfig))));
  EXPECT_TRUE(frontend_->reply_ack());
  // Acknowledged from here on.
  auto owner = frontend_->SetOwner();
  EXPECT_TRUE(owner) << owner.error().ToString();
  auto queues = frontend_->GetQueueNum();
  ASSERT_TRUE(queues) << queues.error().ToString();
  EXPECT_EQ(*queues, 1u);
}

TEST_F(FrontendDaemonTest, ConfigCapacityIsTheImageSizeInSectors) {
  Handshake();
  auto config = frontend_->GetConfig(0, 8);
  ASSERT_TRUE(config) << config.error().ToString();
  ASSERT_EQ(config->size(), 8u);
  uint64_t capacity;
  std::memcpy(&capacity, config->data(), sizeof(capacity));
  EXPECT_EQ(capacity, kFrontendImageSize / 512);
}

TEST_F(FrontendDaemonTest, ConfigAtAnOffsetIsTheSliceOfTheWhole) {
  Handshake();
  auto whole = frontend_->GetConfig(0, 24);
  ASSERT_TRUE(whole) << whole.error().ToString();
  auto tail = frontend_->GetConfig(8, 16);
  ASSERT_TRUE(tail) << tail.error().ToString();
  EXPECT_EQ(*tail, std::vector<std::byte>(whole->begin() + 8, whole->end()));
}

TEST_F(FrontendDaemonTest, ConfigLargerThanTheDeviceIsRefusedAndTheConnectionLives) {
  Handshake();
  auto config = frontend_->GetConfig(0, kMaxConfigSize);
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().code(), ErrorCode::kAborted);
  EXPECT_NE(config.error().message().find("refused GET_CONFIG"), std::string::npos);
  EXPECT_TRUE(frontend_->GetFeatures());
}

TEST_F(FrontendDaemonTest, CallAfterTheBackendIsKilledIsUnavailable) {
  Handshake();
  ASSERT_TRUE(daemon_->Kill());
  auto features = frontend_->GetFeatures();
  ASSERT_FALSE(features);
  EXPECT_EQ(features.error().code(), ErrorCode::kUnavailable) << features.error().ToString();
  EXPECT_NE(features.error().message().find("backend closed the connection"), std::string::npos)
      << features.error().ToString();
  EXPECT_NE(features.error().message().find(daemon_->socket_path()), std::string::npos);
  // The connection stays broken.
  EXPECT_EQ(frontend_->SetOwner().error().code(), ErrorCode::kFailedPrecondition);
}

TEST(FrontendTest, ConnectWithNoListenerIsUnavailableAndNamesThePath) {
  std::string dir = TempDir();
  std::string path = dir + "/nobody.sock";
  auto frontend = VhostUserFrontend::Connect(path);
  ASSERT_FALSE(frontend);
  EXPECT_EQ(frontend.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(frontend.error().message().find(path), std::string::npos)
      << frontend.error().ToString();

  // A socket file nobody listens on any more.
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, path.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ::close(fd);
  auto refused = VhostUserFrontend::Connect(path);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), ErrorCode::kUnavailable);
  std::filesystem::remove_all(dir);
}

TEST(FrontendTest, BackendThatNeverAnswersExceedsTheDeadline) {
  FakeBackend backend;  // Never accepts: the request sits in the socket.
  auto frontend = VhostUserFrontend::Connect(backend.path(), {.timeout = 200ms});
  ASSERT_TRUE(frontend) << frontend.error().ToString();
  auto start = Clock::now();
  auto features = frontend->GetFeatures();
  auto elapsed = Clock::now() - start;
  ASSERT_FALSE(features);
  EXPECT_EQ(features.error().code(), ErrorCode::kDeadlineExceeded);
  EXPECT_NE(features.error().message().find("GET_FEATURES"), std::string::npos)
      << features.error().ToString();
  EXPECT_GE(elapsed, 200ms);
  EXPECT_LT(elapsed, 5s);
}

TEST(FrontendTest, ReplyWithTheWrongPayloadSizeIsAnError) {
  FakeBackend backend(
      AnswerWith({.request = 1, .flags = 0x5, .size = 4}, std::vector<std::byte>(4)));
  auto frontend = VhostUserFrontend::Connect(backend.path(), {.timeout = 5s});
  ASSERT_TRUE(frontend);
  auto features = frontend->GetFeatures();
  ASSERT_FALSE(features);
  EXPECT_EQ(features.error().code(), ErrorCode::kInternal);
  EXPECT_EQ(features.error().message(), "vhost-user backend " + backend.path() +
                                            ": GET_FEATURES reply has 4 bytes, expected 8");
  // Out of step now: later calls are refused without touching the socket.
  auto again = frontend->GetFeatures();
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), ErrorCode::kFailedPrecondition);
}

TEST(FrontendTest, ReplyWithoutTheReplyFlagIsAnError) {
  FakeBackend backend(
      AnswerWith({.request = 1, .flags = 0x1, .size = 8}, std::vector<std::byte>(8)));
  auto frontend = VhostUserFrontend::Connect(backend.path(), {.timeout = 5s});
  ASSERT_TRUE(frontend);
  auto features = frontend->GetFeatures();
  ASSERT_FALSE(features);
  EXPECT_EQ(features.error().code(), ErrorCode::kInternal);
  EXPECT_NE(features.error().message().find("GET_FEATURES reply lacks the reply flag"),
            std::string::npos)
      << features.error().ToString();
}

TEST(FrontendTest, ReplyToAnotherRequestIsAnError) {
  FakeBackend backend(
      AnswerWith({.request = 15, .flags = 0x5, .size = 8}, std::vector<std::byte>(8)));
  auto frontend = VhostUserFrontend::Connect(backend.path(), {.timeout = 5s});
  ASSERT_TRUE(frontend);
  auto features = frontend->GetFeatures();
  ASSERT_FALSE(features);
  EXPECT_NE(features.error().message().find("reply to GET_FEATURES is for GET_PROTOCOL_FEATURES"),
            std::string::npos)
      << features.error().ToString();
}

TEST(FrontendTest, BackendHangingUpMidReplyIsUnavailable) {
  FakeBackend backend([](int fd) {
    Header request;
    (void)::recv(fd, &request, sizeof(request), MSG_WAITALL);
    Header partial{.request = 1, .flags = 0x5, .size = 8};
    (void)::send(fd, &partial, 6, MSG_NOSIGNAL);  // Half a header, then gone.
  });
  auto frontend = VhostUserFrontend::Connect(backend.path(), {.timeout = 5s});
  ASSERT_TRUE(frontend);
  auto features = frontend->GetFeatures();
  ASSERT_FALSE(features);
  EXPECT_EQ(features.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(features.error().message().find("backend closed the connection"), std::string::npos);
}

TEST(FrontendTest, NonZeroAckIsARefusalNamingTheRequest) {
  std::atomic<uint32_t> owner_flags{0};
  FakeBackend backend([&](int fd) {
    // SET_PROTOCOL_FEATURES (no reply), then SET_OWNER (acked with 1).
    for (int i = 0; i < 2; ++i) {
      Header request;
      if (::recv(fd, &request, sizeof(request), MSG_WAITALL) != sizeof(request)) return;
      std::vector<std::byte> payload(request.size);
      if (request.size > 0) (void)::recv(fd, payload.data(), payload.size(), MSG_WAITALL);
      if (request.request != static_cast<uint32_t>(Request::kSetOwner)) continue;
      owner_flags = request.flags;
      Header header{.request = request.request, .flags = 0x5, .size = 8};
      uint64_t ack = 1;
      char reply[sizeof(header) + sizeof(ack)];
      std::memcpy(reply, &header, sizeof(header));
      std::memcpy(reply + sizeof(header), &ack, sizeof(ack));
      (void)::send(fd, reply, sizeof(reply), MSG_NOSIGNAL);
    }
    char byte;
    (void)::recv(fd, &byte, 1, 0);
  });
  auto frontend = VhostUserFrontend::Connect(backend.path(), {.timeout = 5s});
  ASSERT_TRUE(frontend);
  ASSERT_TRUE(frontend->SetProtocolFeatures(1ull << kProtocolFeatureReplyAck));
  auto owner = frontend->SetOwner();
  ASSERT_FALSE(owner);
  EXPECT_EQ(owner_flags.load(), kVersion | kFlagNeedReply);
  EXPECT_EQ(owner.error().code(), ErrorCode::kAborted);
  EXPECT_NE(owner.error().message().find("backend refused SET_OWNER (ack 1)"), std::string::npos)
      << owner.error().ToString();
}

TEST(FrontendTest, ConfigNeedsTheConfigProtocolFeature) {
  FakeBackend backend;
  auto frontend = VhostUserFrontend::Connect(backend.path());
  ASSERT_TRUE(frontend);
  EXPECT_EQ(frontend->GetConfig(0, 8).error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(frontend->GetQueueNum().error().code(), ErrorCode::kFailedPrecondition);
}

}  // namespace
}  // namespace trellis::vhost_user
