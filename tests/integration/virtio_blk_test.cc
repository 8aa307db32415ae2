// virtio-blk end to end: a real qemu-storage-daemon exporting an image over
// vhost-user-blk, the virtio-blk driver in a real host, and real gRPC
// clients: data through Block lands in the image file and the reverse,
// flush, a depth-32 stream, gpt on top, a killed backend (EIO, then the
// driver reconnects), and suspend with I/O in flight.
#include <gmock/gmock.h>
#include <sys/wait.h>

#include <fstream>

#include "drivers/gpt/testing/gpt_test_support.h"
#include "drivers/gpt/testing/image_file.h"
#include "drivers/gpt/testing/sgdisk.h"
#include "tests/integration/testing/block_calls.h"
#include "tests/integration/testing/block_stream.h"
#include "tests/integration/testing/manager_fixture.h"
#include "virtio/vhost_user/testing/storage_daemon.h"

namespace trellis::testing {
namespace {

namespace fs = std::filesystem;
using vhost_user::testing::StorageDaemon;
using vhost_user::testing::StorageDaemonOptions;

constexpr char kDisk[] = "root.sys.disk";
constexpr char kWholeDisk[] = "root.sys.disk.block";

class VirtioBlkTest : public ManagerFixture {
 protected:
  void SetUp() override {
    if (!StorageDaemon::Available()) GTEST_SKIP() << StorageDaemon::kMissing;
  }

  // Starts the daemon with `options`, and the manager with a board whose
  // disk node is virtio-blk on the daemon's socket.
  void Start(StorageDaemonOptions options = {}) {
    auto daemon = StorageDaemon::Start(std::move(options));
    ASSERT_TRUE(daemon) << daemon.error().ToString();
    daemon_ = std::move(*daemon);
    std::string node = R"({"name": "disk", "properties": [)"
                       R"({"key": "trellis.compatible", "string_value": "trellis,virtio-blk"},)"
                       R"({"key": "virtio.timeout_ms", "int_value": 2000},)"
                       R"({"key": "virtio.socket", "string_value": ")" +
                       daemon_->socket_path() + "\"}]}";
    StartManager(Board(node), {{"virtio-blk.json", ShippedManifest("virtio-blk.json")},
                               {"gpt.json", ShippedManifest("gpt.json")}});
    ASSERT_TRUE(WaitForNodeState(kWholeDisk, node::v1::NODE_STATE_BOUND))
        << FindNode(kDisk).value_or(node::v1::NodeInfo{}).DebugString() << "\n"
        << daemon_->Log();
  }

  // A zeroed sparse image of `size` bytes for the daemon to export.
  StorageDaemonOptions ZeroImage(uint64_t size) {
    auto image = gpt::testing::ImageFile::Create(size);
    EXPECT_TRUE(image);
    image_.emplace(std::move(*image));
    return {.image = image_->path()};
  }

  std::unique_ptr<StorageDaemon> daemon_;
  std::optional<gpt::testing::ImageFile> image_;
};

TEST_F(VirtioBlkTest, BlockDataIsInTheImageFileAndImageDataReadsBack) {
  Start();
  BlockBinding disk = BindBlock(stub(), kDisk);
  auto info = BlockInfoOf(disk);
  EXPECT_EQ(info.block_size(), 512u);
  EXPECT_EQ(info.block_count(), daemon_->image_size() / 512);

  std::string read;
  ASSERT_TRUE(BlockRead(disk, 8, 2, &read).ok());
  ASSERT_EQ(read.size(), 1024u);
  for (size_t i = 0; i < read.size(); ++i) {
    ASSERT_EQ(static_cast<std::byte>(read[i]), StorageDaemon::PatternByte(8 * 512 + i)) << i;
  }

  std::string pattern = Pattern(8 * 512, 5);
  ASSERT_TRUE(BlockWrite(disk, 100, pattern).ok());
  ASSERT_TRUE(BlockFlush(disk).ok());
  auto in_image = daemon_->ReadImage(100 * 512, pattern.size());
  ASSERT_TRUE(in_image) << in_image.error().ToString();
  EXPECT_EQ(*in_image, pattern);
}

TEST_F(VirtioBlkTest, StreamOfRandomWritesAndReadsAtDepth32Verifies) {
  Start(ZeroImage(4 << 20));
  BlockBinding disk = BindBlock(stub(), kDisk);
  auto check = RunStream(disk.stub.get(), disk.token, 8192, 512, 3'000, 32);
  EXPECT_EQ(check.completed, 3'000);
  EXPECT_EQ(check.failures, 0);
  EXPECT_EQ(check.mismatches, 0);
}

TEST_F(VirtioBlkTest, GptBindsOnTopAndShowsTheImagesPartitions) {
  std::string sgdisk = gpt::testing::FindSgdisk();
  if (sgdisk.empty()) GTEST_SKIP() << "sgdisk (Debian package gdisk) is not installed";
  auto image = gpt::testing::MakeSgdiskImage(sgdisk,
                                             {"-n", "1:2048:+2M", "-t", "1:ef00", "-c", "1:boot",
                                              "-n", "2:0:0", "-t", "2:8300", "-c", "2:data"},
                                             8 << 20, gpt::testing::kImageCacheDir);
  ASSERT_TRUE(image) << image.error().ToString();
  image_.emplace(std::move(*image));
  Start({.image = image_->path()});
  // gpt's Start adds the partitions before the node counts as bound.
  auto p1 = FindNode(std::string(kWholeDisk) + ".p1");
  auto p2 = FindNode(std::string(kWholeDisk) + ".p2");
  ASSERT_TRUE(p1 && p2);
  EXPECT_EQ(PropertyText(*p1, "gpt.name"), "boot");
  EXPECT_EQ(PropertyText(*p2, "gpt.name"), "data");
}

TEST_F(VirtioBlkTest, KilledBackendFailsIoAndTheDriverReconnectsToItsSuccessor) {
  Start(ZeroImage(1 << 20));
  BlockBinding disk = BindBlock(stub(), kDisk);
  std::string read;
  ASSERT_TRUE(BlockRead(disk, 0, 1, &read).ok());
  pid_t host = HostPid(FindNode(kDisk)->host());

  ASSERT_TRUE(daemon_->Kill());
  // Whether it reaches the dead ring (EIO) or finds the driver
  // reconnecting (UNAVAILABLE), the read fails rather than hangs.
  grpc::Status failed = BlockRead(disk, 1, 1, &read);
  EXPECT_FALSE(failed.ok());
  EXPECT_THAT(failed.error_code(),
              ::testing::AnyOf(grpc::StatusCode::UNAVAILABLE, grpc::StatusCode::DATA_LOSS,
                               grpc::StatusCode::INTERNAL))
      << failed.error_message();

  ASSERT_TRUE(daemon_->Restart()) << daemon_->Log();
  std::string pattern = Pattern(512, 9);
  grpc::Status wrote;
  for (int attempt = 0; attempt < 200; ++attempt) {  // Reconnects back off up to 5 s.
    wrote = BlockWrite(disk, 3, pattern);
    if (wrote.ok()) break;
    ASSERT_EQ(wrote.error_code(), grpc::StatusCode::UNAVAILABLE) << wrote.error_message();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(wrote.ok()) << wrote.error_message();
  ASSERT_TRUE(BlockRead(disk, 3, 1, &read).ok());
  EXPECT_EQ(read, pattern);
  EXPECT_EQ(HostPid(FindNode(kDisk)->host()), host) << "the host kept running";
}

TEST_F(VirtioBlkTest, StalledBackendFailsIoWithEioWithinTheDeadlineAndComesBack) {
  Start(ZeroImage(1 << 20));  // virtio.timeout_ms is 2000.
  BlockBinding disk = BindBlock(stub(), kDisk);
  std::string read;
  ASSERT_TRUE(BlockRead(disk, 0, 1, &read).ok());
  ASSERT_EQ(::kill(daemon_->pid(), SIGSTOP), 0);
  block::v1::ReadRequest request;
  request.set_offset_blocks(1);
  request.set_length_blocks(1);
  block::v1::ReadResponse response;
  // The client's own deadline (10 s) is well past the driver's (2 s): the
  // answer must come from the driver's watchdog.
  grpc::Status stalled =
      disk.stub->Read(WithToken(disk.token, std::chrono::seconds(10)).get(), request, &response);
  ASSERT_EQ(::kill(daemon_->pid(), SIGCONT), 0);
  EXPECT_EQ(stalled.error_code(), grpc::StatusCode::DATA_LOSS) << stalled.error_message();
  EXPECT_THAT(stalled.error_message(), ::testing::HasSubstr("no answer within 2000 ms"));

  grpc::Status again;
  for (int attempt = 0; attempt < 200; ++attempt) {  // The driver reconnects with backoff.
    again = BlockRead(disk, 0, 1, &read);
    if (again.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(again.ok()) << again.error_message();
}

TEST_F(VirtioBlkTest, SuspendWithIoInFlightLosesNothing) {
  Start(ZeroImage(4 << 20));
  BlockBinding disk = BindBlock(stub(), kDisk);
  auto check =
      RunStreamAcrossSuspends(manager_->endpoint(), disk.stub.get(), disk.token, 8192, 512);
  EXPECT_EQ(check.completed, 4'000);
  EXPECT_EQ(check.failures, 0);
  EXPECT_EQ(check.mismatches, 0);
  EXPECT_EQ(check.cycles, 2);
}

}  // namespace
}  // namespace trellis::testing
