// Backends the manager starts: a board node declares a qemu-storage-daemon
// (vhost-user-blk) backend; the manager starts it before binding the node,
// publishes its socket as "virtio.socket", restarts it when it dies, stops
// it with the manager, and gives up on one that keeps exiting at once —
// while the rest of the board keeps working.
#include <gmock/gmock.h>
#include <signal.h>

#include <filesystem>
#include <fstream>

#include "tests/integration/testing/block_calls.h"
#include "tests/integration/testing/block_stream.h"
#include "tests/integration/testing/manager_fixture.h"
#include "virtio/vhost_user/testing/storage_daemon.h"

namespace trellis::testing {
namespace {

namespace fs = std::filesystem;
using vhost_user::testing::StorageDaemon;

constexpr char kBackendDisk[] = "root.sys.disk";
constexpr uint64_t kImageSize = 1 << 20;

// A board node "disk" for virtio-blk whose backend is `argv_json` (a JSON
// array) listening on `socket`.
std::string BackendNode(const std::string& name, const std::string& argv_json,
                        const std::string& socket) {
  return R"({"name": ")" + name +
         R"(", "properties": [)"
         R"({"key": "trellis.compatible", "string_value": "trellis,virtio-blk"},)"
         R"({"key": "virtio.timeout_ms", "int_value": 2000}],)"
         R"( "backend": {"argv": )" +
         argv_json + R"(, "socket": ")" + socket + R"(", "ready_timeout_ms": 10000}})";
}

class VirtioBackendTest : public ManagerFixture {
 protected:
  void SetUp() override {
    if (!StorageDaemon::Available()) GTEST_SKIP() << StorageDaemon::kMissing;
  }

  // A zeroed image file of kImageSize bytes in the test's directory.
  std::string MakeImage() {
    std::string path = (dir_.path() / "disk.img").string();
    std::ofstream(path).close();
    fs::resize_file(path, kImageSize);
    return path;
  }

  // qemu-storage-daemon exporting `image` writable on "{socket}".
  static std::string DaemonArgv(const std::string& image) {
    return std::string(R"([")") + StorageDaemon::kDefaultBinary +
           R"(", "--blockdev", "driver=file,node-name=disk0,filename=)" + image +
           R"(", "--export", "type=vhost-user-blk,id=exp0,node-name=disk0,addr.type=unix,)"
           R"(addr.path={socket},writable=on"])";
  }

  // Starts the manager with the daemon as the disk node's backend and waits
  // for virtio-blk to be up on it.
  void StartWithDaemon() {
    image_ = MakeImage();
    StartManager(Board(BackendNode("disk", DaemonArgv(image_), "disk.sock")),
                 {{"virtio-blk.json", ShippedManifest("virtio-blk.json")}});
    ASSERT_TRUE(WaitForNodeState(kBackendDisk, node::v1::NODE_STATE_BOUND))
        << FindNode(kBackendDisk).value_or(node::v1::NodeInfo{}).DebugString();
  }

  node::v1::BackendStatus Backend(const std::string& path = kBackendDisk) {
    return FindNode(path).value_or(node::v1::NodeInfo{}).backend();
  }

  std::string ReadImage(uint64_t offset, size_t length) {
    std::ifstream in(image_, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(offset));
    std::string data(length, '\0');
    in.read(data.data(), static_cast<std::streamsize>(length));
    data.resize(static_cast<size_t>(in.gcount()));
    return data;
  }

  // Writes until the driver is back on a (re)started backend: UNAVAILABLE
  // or an I/O error while it reconnects, OK once it is.
  grpc::Status WriteWithin(BlockBinding& disk, uint64_t block, const std::string& data,
                           std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    grpc::Status status;
    while (std::chrono::steady_clock::now() < deadline) {
      status = BlockWrite(disk, block, data);
      if (status.ok()) return status;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return status;
  }

  std::string image_;
};

TEST_F(VirtioBackendTest, ManagerStartsTheBackendAndBlockWritesLandInTheImage) {
  StartWithDaemon();
  std::string socket = (dir_.path() / "run" / "disk.sock").string();
  auto disk = FindNode(kBackendDisk);
  ASSERT_TRUE(disk);
  EXPECT_EQ(PropertyText(*disk, "virtio.socket"), socket);
  EXPECT_EQ(disk->backend().state(), node::v1::BACKEND_STATE_RUNNING);
  EXPECT_GT(disk->backend().pid(), 0);
  EXPECT_EQ(disk->backend().socket(), socket);
  EXPECT_EQ(disk->backend().restart_count(), 0u);

  BlockBinding block = BindBlock(stub(), kBackendDisk);
  EXPECT_EQ(BlockInfoOf(block).block_count(), kImageSize / 512);
  std::string pattern = Pattern(4 * 512, 3);
  ASSERT_TRUE(BlockWrite(block, 40, pattern).ok());
  ASSERT_TRUE(BlockFlush(block).ok());
  EXPECT_EQ(ReadImage(40 * 512, pattern.size()), pattern);
}

TEST_F(VirtioBackendTest, KilledBackendIsRestartedAndIoWorksAgain) {
  StartWithDaemon();
  BlockBinding block = BindBlock(stub(), kBackendDisk);
  ASSERT_TRUE(BlockWrite(block, 1, Pattern(512, 1)).ok());
  pid_t first = Backend().pid();
  ASSERT_GT(first, 0);

  ASSERT_EQ(::kill(first, SIGKILL), 0);
  ASSERT_TRUE(WaitUntil([&] {
    auto backend = Backend();
    return backend.state() == node::v1::BACKEND_STATE_RUNNING && backend.pid() > 0 &&
           backend.pid() != first && backend.restart_count() == 1;
  })) << Backend().DebugString();
  EXPECT_EQ(Backend().last_exit(), "killed by signal 9 (Killed)");

  std::string pattern = Pattern(512, 7);
  grpc::Status wrote = WriteWithin(block, 9, pattern, std::chrono::seconds(20));
  ASSERT_TRUE(wrote.ok()) << wrote.error_message();
  ASSERT_TRUE(BlockFlush(block).ok());
  EXPECT_EQ(ReadImage(9 * 512, pattern.size()), pattern);
}

TEST_F(VirtioBackendTest, StoppingTheManagerStopsTheBackendAndRemovesItsSocket) {
  StartWithDaemon();
  pid_t pid = Backend().pid();
  std::string socket = Backend().socket();
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(fs::exists(socket));

  StopManager();
  // Reaped by the manager: the pid no longer exists (not even as a zombie).
  EXPECT_EQ(::kill(pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
  EXPECT_FALSE(fs::exists(socket));
}

TEST_F(VirtioBackendTest, BackendThatExitsAtOnceIsRetriedWithBackoffThenMarkedFailed) {
  auto started = std::chrono::steady_clock::now();
  StartManager(
      Board(BackendNode("disk", R"(["false"])", "disk.sock") + ", " + EchoNode("echo", 0, 0)),
      {{"virtio-blk.json", ShippedManifest("virtio-blk.json")}, {"echo.json", EchoManifest()}});
  // Five runs, four restarts after 100 + 200 + 400 + 800 ms.
  ASSERT_TRUE(WaitUntil([&] { return Backend().state() == node::v1::BACKEND_STATE_FAILED; }))
      << Backend().DebugString();
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(1500));
  node::v1::BackendStatus backend = Backend();
  EXPECT_EQ(backend.restart_count(), 4u);
  EXPECT_EQ(backend.pid(), 0);
  EXPECT_EQ(backend.last_exit(), "exited with status 1");

  // The rest of the board works; the disk node has no driver.
  ASSERT_TRUE(WaitForNodeState("root.sys.echo", node::v1::NODE_STATE_BOUND));
  Bound echo = BindDevice("root.sys.echo");
  device::v1::CommandRequest request;
  request.set_minor_num(0);
  device::v1::CommandResponse response;
  grpc::Status status = echo.device->Command(WithToken(echo.token).get(), request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_NE(FindNode(kBackendDisk)->state(), node::v1::NODE_STATE_BOUND);
  // Still failed: not restarted again.
  EXPECT_EQ(Backend().restart_count(), 4u);
}

TEST_F(VirtioBackendTest, BoardWithDisagreeingVirtioSocketDoesNotStart) {
  std::string node = R"({"name": "disk", "properties": [)"
                     R"({"key": "virtio.socket", "string_value": "{runtime_dir}/other.sock"}],)"
                     R"( "backend": {"argv": ["true"], "socket": "disk.sock"}})";
  fs::create_directories(dir_.path() / "drivers");
  std::ofstream(dir_.path() / "board.json") << Board(node);
  manager::ManagerOptions options;
  options.board = dir_.path() / "board.json";
  options.runtime_dir = dir_.path() / "run";
  auto manager = manager::Manager::Start(options);
  ASSERT_FALSE(manager);
  EXPECT_THAT(manager.error().message(),
              ::testing::HasSubstr("node root.sys.disk: 'virtio.socket' is "
                                   "'{runtime_dir}/other.sock' but the backend listens on"));
}

}  // namespace
}  // namespace trellis::testing
