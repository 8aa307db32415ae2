// GPT partitions as Block nodes, end to end: an sgdisk image served by
// uring-block, the gpt driver bound to its "block" child (in the disk's host,
// and in a host of its own over gRPC), partition nodes with sgdisk's
// properties, data written through a partition and read through the whole
// disk, the backup header used when the primary is damaged, and lying
// tables refused with no partition nodes.
#include <gmock/gmock.h>

#include <fstream>

#include "drivers/gpt/testing/gpt_test_support.h"
#include "drivers/gpt/testing/gpt_writer.h"
#include "drivers/gpt/testing/sgdisk.h"
#include "tests/integration/testing/block_calls.h"
#include "tests/integration/testing/block_stream.h"
#include "tests/integration/testing/manager_fixture.h"
#include "trellis/block/v1/block.grpc.pb.h"

namespace trellis::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr uint64_t kImageSize = 8 << 20;  // 16384 blocks of 512 bytes
constexpr uint64_t kLastLba = kImageSize / 512 - 1;
const std::vector<std::string> kBootAndData = {"-n", "1:2048:+2M", "-t", "1:ef00", "-c", "1:boot",
                                               "-n", "2:0:0",      "-t", "2:8300", "-c", "2:data"};
constexpr char kDisk[] = "root.sys.disk";
constexpr char kWholeDisk[] = "root.sys.disk.block";

class GptTest : public ManagerFixture {
 protected:
  void SetUp() override {
    sgdisk_ = gpt::testing::FindSgdisk();
    if (sgdisk_.empty()) GTEST_SKIP() << "sgdisk (Debian package gdisk) is not installed";
    auto image = gpt::testing::MakeSgdiskImage(sgdisk_, kBootAndData, kImageSize,
                                               gpt::testing::kImageCacheDir);
    ASSERT_TRUE(image) << image.error().ToString();
    image_.emplace(std::move(*image));
  }

  // Starts the manager with the image as root.sys.disk; `own_host` puts
  // the gpt driver in a host of its own (so it reaches the disk over gRPC).
  void Start(bool own_host = false, bool expect_bound = true) {
    std::string gpt = ShippedManifest("gpt.json");
    if (own_host) {
      auto at = gpt.find("\"colocation_group\": \"block\"");
      ASSERT_NE(at, std::string::npos);
      gpt.replace(at, std::string("\"colocation_group\": \"block\"").size(),
                  "\"colocation_group\": \"gpt-alone\"");
    }
    std::string node = R"({"name": "disk", "properties": [)"
                       R"({"key": "trellis.compatible", "string_value": "trellis,uring-block"},)"
                       R"({"key": "block.path", "string_value": ")" +
                       image_->path() + "\"}]}";
    StartManager(Board(node),
                 {{"uring-block.json", ShippedManifest("uring-block.json")}, {"gpt.json", gpt}});
    if (!expect_bound) return;
    ASSERT_TRUE(WaitForNodeState(kWholeDisk, node::v1::NODE_STATE_BOUND))
        << FindNode(kWholeDisk).value_or(node::v1::NodeInfo{}).DebugString();
  }

  BlockBinding Bind(const std::string& path) { return BindBlock(stub(), path); }

  std::vector<std::string> PartitionNodes() {
    std::vector<std::string> paths;
    for (const auto& node : Nodes()) {
      if (node.parent_path() == kWholeDisk) paths.push_back(node.path());
    }
    return paths;
  }

  // Writes a pattern through partition 2 and reads it back through the
  // whole disk at the partition's offset, and the other way round.
  void ExpectDataThroughPartitionAndDisk() {
    auto p2 = FindNode(std::string(kWholeDisk) + ".p2");
    ASSERT_TRUE(p2);
    uint64_t first_lba = std::stoull(PropertyText(*p2, "gpt.first_lba"));
    BlockBinding partition = Bind(p2->path());
    BlockBinding disk = Bind(kDisk);
    std::string pattern(8 * 512, '\0');
    for (size_t i = 0; i < pattern.size(); ++i) pattern[i] = static_cast<char>(i * 7 + 3);
    ASSERT_TRUE(BlockWrite(partition, 10, pattern).ok());
    std::string read;
    ASSERT_TRUE(BlockRead(disk, first_lba + 10, 8, &read).ok());
    EXPECT_EQ(read, pattern) << "partition block 10 is disk block " << first_lba + 10;
    std::string other(512, 'z');
    ASSERT_TRUE(BlockWrite(disk, first_lba, other).ok());
    ASSERT_TRUE(BlockRead(partition, 0, 1, &read).ok());
    EXPECT_EQ(read, other);
  }

  std::string sgdisk_;
  std::optional<gpt::testing::ImageFile> image_;
};

TEST_F(GptTest, PartitionNodesCarryWhatSgdiskReports) {
  Start();
  ASSERT_TRUE(WaitUntil([&] { return PartitionNodes().size() == 2; }));
  for (uint32_t number : {1u, 2u}) {
    SCOPED_TRACE("partition " + std::to_string(number));
    auto info = gpt::testing::SgdiskInfo(sgdisk_, image_->path(), number);
    ASSERT_TRUE(info) << info.error().ToString();
    auto node = FindNode(std::string(kWholeDisk) + ".p" + std::to_string(number));
    ASSERT_TRUE(node);
    EXPECT_EQ(PropertyText(*node, "gpt.name"), info->name);
    EXPECT_EQ(PropertyText(*node, "gpt.type_guid"), info->type_guid.ToString());
    EXPECT_EQ(PropertyText(*node, "gpt.unique_guid"), info->unique_guid.ToString());
    EXPECT_EQ(PropertyText(*node, "gpt.first_lba"), std::to_string(info->first_lba));
    EXPECT_EQ(PropertyText(*node, "gpt.last_lba"), std::to_string(info->last_lba));
    EXPECT_EQ(PropertyText(*node, "gpt.index"), std::to_string(number));
    EXPECT_THAT(node->protocols(), ::testing::Contains("trellis.block.v1.Block"));
    BlockBinding client = Bind(node->path());
    auto block_info = BlockInfoOf(client);
    EXPECT_EQ(block_info.block_size(), 512u);
    EXPECT_EQ(block_info.block_count(), info->last_lba - info->first_lba + 1);
  }
}

TEST_F(GptTest, DataWrittenThroughAPartitionIsOnTheDiskAtItsOffset) {
  Start();
  ASSERT_TRUE(WaitUntil([&] { return PartitionNodes().size() == 2; }));
  ExpectDataThroughPartitionAndDisk();
}

TEST_F(GptTest, GptInItsOwnHostReachesTheDiskOverGrpc) {
  Start(/*own_host=*/true);
  ASSERT_TRUE(WaitUntil([&] { return PartitionNodes().size() == 2; }));
  EXPECT_NE(FindNode(kWholeDisk)->host(), FindNode(kDisk)->host());
  ExpectDataThroughPartitionAndDisk();
}

TEST_F(GptTest, IoOutsideAPartitionIsRefused) {
  Start();
  ASSERT_TRUE(WaitUntil([&] { return PartitionNodes().size() == 2; }));
  BlockBinding p1 = Bind(std::string(kWholeDisk) + ".p1");
  uint64_t blocks = BlockInfoOf(p1).block_count();
  std::string read;
  EXPECT_EQ(BlockRead(p1, blocks, 1, &read).error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_EQ(BlockRead(p1, blocks - 1, 2, &read).error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_EQ(BlockWrite(p1, blocks, std::string(512, 'x')).error_code(),
            grpc::StatusCode::OUT_OF_RANGE);
  // The neighbouring partition is untouched.
  BlockBinding p2 = Bind(std::string(kWholeDisk) + ".p2");
  ASSERT_TRUE(BlockRead(p2, 0, 1, &read).ok());
  EXPECT_EQ(read, std::string(512, '\0'));
}

TEST_F(GptTest, DamagedPrimaryHeaderFallsBackToTheBackup) {
  ASSERT_TRUE(image_->FlipByte(512 + 20));  // Inside the primary header's CRC field.
  Start();
  ASSERT_TRUE(WaitUntil([&] { return PartitionNodes().size() == 2; }));
  ExpectDataThroughPartitionAndDisk();
}

TEST_F(GptTest, LyingTableIsRefusedWithNoPartitionNodes) {
  // Partition 2 overlapping partition 1, in both copies, CRCs valid.
  auto table = gpt::ParseGpt(512, kImageSize / 512, image_->Reader());
  ASSERT_TRUE(table) << table.error().ToString();
  gpt::Partition data = table->partitions[1];
  data.first_lba = 4000;
  ASSERT_TRUE(gpt::testing::WriteEntry(*image_, 512, 1, data));
  ASSERT_TRUE(gpt::testing::WriteEntry(*image_, 512, kLastLba, data));
  Start(/*own_host=*/false, /*expect_bound=*/false);
  // The disk stays; the gpt driver did not start, and says why.
  ASSERT_TRUE(WaitUntil([&] {
    auto node = FindNode(kWholeDisk);
    return node && !node->last_error().empty();
  }));
  auto node = FindNode(kWholeDisk);
  EXPECT_THAT(node->last_error(), HasSubstr("partition 2 'data' (LBA 4000..16350) overlaps"));
  EXPECT_NE(node->state(), node::v1::NODE_STATE_BOUND);
  EXPECT_TRUE(PartitionNodes().empty());
  EXPECT_EQ(FindNode(kDisk)->state(), node::v1::NODE_STATE_BOUND);
}

TEST_F(GptTest, SuspendWithIoInFlightThroughAPartitionLosesNothing) {
  Start();
  ASSERT_TRUE(WaitUntil([&] { return PartitionNodes().size() == 2; }));
  BlockBinding p1 = Bind(std::string(kWholeDisk) + ".p1");
  // The gpt driver suspends before the disk's (children first): its queued
  // requests wait, those already at the disk complete there.
  auto check = RunStreamAcrossSuspends(manager_->endpoint(), p1.stub.get(), p1.token,
                                       BlockInfoOf(p1).block_count(), 512);
  EXPECT_EQ(check.completed, 4'000);
  EXPECT_EQ(check.failures, 0);
  EXPECT_EQ(check.mismatches, 0);
  EXPECT_EQ(check.cycles, 2) << "both suspends reached Suspended and resumed";
}

TEST_F(GptTest, DiskWithoutATableHasNoPartitions) {
  image_.reset();
  auto blank = gpt::testing::ImageFile::Create(kImageSize);
  ASSERT_TRUE(blank);
  image_.emplace(std::move(*blank));
  Start();
  EXPECT_EQ(FindNode(kWholeDisk)->bound_driver(), "gpt");
  EXPECT_TRUE(PartitionNodes().empty());
}

}  // namespace
}  // namespace trellis::testing
