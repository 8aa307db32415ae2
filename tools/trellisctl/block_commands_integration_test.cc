// trellisctl block against a real trellis-manager: a board with two
// uring-block disks on temp files (one read-only), the driver copied into a
// driver dir of the test's own; checks what `block info|read|write|bench`
// print, that data written reads back, and how bad requests fail.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "tools/trellisctl/testing/subprocess.h"
#include "tools/trellisctl/testing/trellisctl_fixture.h"

namespace trellis::tools {
namespace {

namespace fs = std::filesystem;
using testing::CommandResult;
using ::testing::HasSubstr;
using testing::RunCommand;
using ::testing::StartsWith;
using Json = nlohmann::json;

constexpr char kDisk[] = "root.sys.disk";
constexpr char kReadOnlyDisk[] = "root.sys.rodisk";
constexpr uint64_t kDiskBytes = 4 << 20;  // 8192 blocks of 512 bytes.
constexpr char kDriver[] = "liburing_block_driver.so";

std::string FileContents(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

Json DiskNode(const std::string& name, const fs::path& image, bool read_only) {
  Json properties = {{{"key", "trellis.compatible"}, {"string_value", "trellis,uring-block"}},
                     {{"key", "block.path"}, {"string_value", image.string()}}};
  if (read_only) properties.push_back({{"key", "block.read_only"}, {"bool_value", true}});
  return {{"name", name}, {"properties", properties}};
}

bool DisksAreBound(const Json& nodes) {
  int bound = 0;
  for (const Json& node : nodes) {
    std::string path = node.value("path", "");
    if ((path == kDisk || path == kReadOnlyDisk) && node.value("state", "") == "bound") ++bound;
  }
  return bound == 2;
}

class BlockCommandsTest : public testing::TrellisctlFixture {
 protected:
  void SetUp() override {
    TrellisctlFixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    fs::path built = fs::path(TRELLIS_TEST_DRIVER_DIR);
    if (!fs::exists(built / kDriver)) {
      GTEST_SKIP() << "uring_block_driver is not built in " << built;
    }
    // Only uring-block, with access for whoever runs the test.
    fs::path drivers = dir_ / "drivers";
    fs::create_directories(drivers);
    fs::copy_file(built / kDriver, drivers / kDriver);
    Json manifest = Json::parse(FileContents(built / "uring-block.json"));
    manifest["access"] = {{"uids", {getuid()}}};
    std::ofstream(drivers / "uring-block.json") << manifest.dump(2);

    image_ = dir_ / "disk.img";
    for (const fs::path& image : {image_, dir_ / "rodisk.img"}) {
      std::ofstream(image, std::ios::binary).close();
      fs::resize_file(image, kDiskBytes);
    }
    Json board = {
        {"name", "trellisctl-block-test"},
        {"nodes",
         {{{"name", "sys"},
           {"children",
            {DiskNode("disk", image_, false), DiskNode("rodisk", dir_ / "rodisk.img", true)}}}}},
        {"suspend_hal", {{"kind", "SIMULATED"}}},
        {"driver_dirs", {drivers.string()}},
    };
    ASSERT_NO_FATAL_FAILURE(StartManager(board));
    ASSERT_NO_FATAL_FAILURE(WaitForNodes(DisksAreBound, "binding both disks"));
  }

  // Writes `bytes` to a file in the temp dir and returns its path.
  std::string TempFile(const std::string& name, const std::string& bytes) {
    fs::path path = dir_ / name;
    std::ofstream(path, std::ios::binary) << bytes;
    return path.string();
  }

  fs::path image_;
};

// Bytes that differ from block to block and from the write pattern.
std::string RandomBytes(size_t size) {
  std::mt19937 random(42);
  std::string bytes(size, '\0');
  for (char& byte : bytes) byte = static_cast<char>(random());
  return bytes;
}

TEST_F(BlockCommandsTest, InfoShowsTheGeometryAsTextAndJson) {
  CommandResult text = Trellisctl({"block", "info", kDisk});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("block size:        512 bytes\n"));
  EXPECT_THAT(text.out, HasSubstr("block count:       8192\n"));
  EXPECT_THAT(text.out, HasSubstr("size:              4.0 MiB (4194304 bytes)\n"));
  EXPECT_THAT(text.out, HasSubstr("read-only:         no\n"));
  EXPECT_THAT(text.out, HasSubstr("max transfer:      128.0 KiB (131072 bytes)\n"));

  CommandResult json = Trellisctl({"block", "info", kReadOnlyDisk, "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  Json info = Json::parse(json.out);
  EXPECT_EQ(info["node"], kReadOnlyDisk);
  EXPECT_EQ(info["block_size"], 512);
  EXPECT_EQ(info["block_count"], 8192);
  EXPECT_EQ(info["size_bytes"], kDiskBytes);
  EXPECT_EQ(info["read_only"], true);
}

TEST_F(BlockCommandsTest, WrittenBytesReadBackThroughSeveralTransfers) {
  // 640 blocks: three transfers each way (the max transfer is 256 blocks).
  const std::string data = RandomBytes(640 * 512);
  CommandResult written =
      Trellisctl({"block", "write", kDisk, "--offset", "1000", "--in", TempFile("in.bin", data)});
  ASSERT_EQ(written.exit_code, 0) << written.err;
  EXPECT_EQ(written.out, "wrote 640 blocks (320.0 KiB) at block 1000 of root.sys.disk\n");

  std::string out = (dir_ / "out.bin").string();
  CommandResult read =
      Trellisctl({"block", "read", kDisk, "--offset", "1000", "--count", "640", "--out", out});
  ASSERT_EQ(read.exit_code, 0) << read.err;
  EXPECT_EQ(FileContents(out), data);
  // And the bytes are where the blocks say in the image.
  EXPECT_EQ(FileContents(image_).substr(1000 * 512, data.size()), data);

  CommandResult json =
      Trellisctl({"--json", "block", "read", kDisk, "--offset", "1001", "--count", "1"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  Json piece = Json::parse(json.out);
  EXPECT_EQ(piece["bytes"], 512);
  std::string want_hex;
  for (unsigned char byte : data.substr(512, 512)) {
    char hex[3];
    std::snprintf(hex, sizeof hex, "%02x", byte);
    want_hex += hex;
  }
  EXPECT_EQ(piece["hex"], want_hex);
}

TEST_F(BlockCommandsTest, ReadPrintsAHexDumpAtTheBlocksByteAddress) {
  CommandResult written =
      Trellisctl({"block", "write", kDisk, "--offset", "100", "--pattern", "0xa5", "--count", "2"});
  ASSERT_EQ(written.exit_code, 0) << written.err;
  CommandResult read = Trellisctl({"block", "read", kDisk, "--offset", "101", "--count", "1"});
  ASSERT_EQ(read.exit_code, 0) << read.err;
  // Block 101 starts at byte 51712 = 0xca00; 512 bytes are 32 lines.
  EXPECT_THAT(read.out, StartsWith("0000ca00  a5 a5 a5 a5 a5 a5 a5 a5  a5 a5 a5 a5 a5 a5 a5 a5  "
                                   "|................|\n"));
  EXPECT_EQ(std::count(read.out.begin(), read.out.end(), '\n'), 32);
}

TEST_F(BlockCommandsTest, ReadPastTheEndFailsNamingTheRange) {
  CommandResult result = Trellisctl({"block", "read", kDisk, "--offset", "8190", "--count", "4"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.out, "");
  EXPECT_THAT(result.err, HasSubstr("trellisctl: block read root.sys.disk: OUT_OF_RANGE: "
                                    "blocks 8190+4 are past the end of the device (8192 blocks)"));
}

TEST_F(BlockCommandsTest, PartialBlocksAreRefusedBeforeAnythingIsWritten) {
  CommandResult result = Trellisctl({"block", "write", kDisk, "--offset", "0", "--in",
                                     TempFile("short.bin", std::string(1000, 'x'))});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, HasSubstr("INVALID_ARGUMENT: "));
  EXPECT_THAT(result.err,
              HasSubstr("holds 1000 bytes, not a whole number of the device's 512-byte blocks"));
  EXPECT_EQ(FileContents(image_).substr(0, 1000), std::string(1000, '\0'));
}

TEST_F(BlockCommandsTest, UnknownNodeFailsWithNotFound) {
  CommandResult result = Trellisctl({"block", "info", "root.sys.nope"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, HasSubstr("trellisctl: block info root.sys.nope: NOT_FOUND: "));
  EXPECT_THAT(result.err, HasSubstr("root.sys.nope"));
}

TEST_F(BlockCommandsTest, ReadOnlyDiskRefusesWritesAndWriteBenches) {
  CommandResult write =
      Trellisctl({"block", "write", kReadOnlyDisk, "--offset", "0", "--pattern", "1"});
  EXPECT_EQ(write.exit_code, 1);
  EXPECT_THAT(write.err, HasSubstr("PERMISSION_DENIED: "));
  CommandResult bench =
      Trellisctl({"block", "bench", kReadOnlyDisk, "--op", "mixed", "--ops", "10"});
  EXPECT_EQ(bench.exit_code, 1);
  EXPECT_EQ(bench.out, "");
  EXPECT_THAT(bench.err, HasSubstr("trellisctl: block bench root.sys.rodisk: PERMISSION_DENIED: "
                                   "the device is read-only and --op mixed writes"));
}

TEST_F(BlockCommandsTest, BenchPrintsIopsAndLatencyPercentiles) {
  CommandResult text = Trellisctl({"block", "bench", kDisk, "--ops", "2000", "--depth", "8"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("root.sys.disk: rand read, 4096-byte requests, depth 8\n"));
  EXPECT_THAT(text.out, HasSubstr("ops:      2000 in "));
  EXPECT_THAT(text.out, HasSubstr(" s, 0 errors\n"));
  EXPECT_THAT(text.out, HasSubstr("\nIOPS:     "));
  EXPECT_THAT(text.out, HasSubstr("\nMB/s:     "));
  for (const char* label :
       {"latency:  p50 ", " us, p90 ", " us, p99 ", " us, p99.9 ", " us, max "}) {
    EXPECT_THAT(text.out, HasSubstr(label));
  }
  EXPECT_EQ(text.err, "");  // No progress line: stderr is not a terminal.
}

TEST_F(BlockCommandsTest, BenchJsonParsesWithConsistentNumbers) {
  CommandResult result = Trellisctl({"--json", "block", "bench", kDisk, "--ops", "2000", "--depth",
                                     "8", "--op", "mixed", "--pattern", "seq", "--size", "8192"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  Json report = Json::parse(result.out);
  EXPECT_EQ(report["op"], "mixed");
  EXPECT_EQ(report["pattern"], "seq");
  EXPECT_EQ(report["size"], 8192);
  EXPECT_EQ(report["depth"], 8);
  EXPECT_EQ(report["ops"], 2000);
  EXPECT_EQ(report["errors"], 0);
  EXPECT_GT(report["seconds"].get<double>(), 0);
  EXPECT_GT(report["iops"].get<double>(), 0);
  const Json& latency = report["latency_us"];
  double previous = 0;
  for (const char* key : {"p50", "p90", "p99", "p99.9", "max"}) {
    ASSERT_TRUE(latency[key].is_number()) << key;
    EXPECT_GE(latency[key].get<double>(), previous) << key;
    previous = latency[key].get<double>();
  }
  EXPECT_GT(previous, 0);
}

TEST_F(BlockCommandsTest, BenchSizeMustBeWholeBlocks) {
  CommandResult result = Trellisctl({"block", "bench", kDisk, "--size", "1000", "--ops", "10"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, HasSubstr("INVALID_ARGUMENT: --size 1000 is not a whole number of the "
                                    "device's 512-byte blocks"));
}

TEST(BlockCommandsUsageTest, BadFlagsAreUsageErrors) {
  if (!fs::exists(TRELLISCTL_BINARY)) GTEST_SKIP() << TRELLISCTL_BINARY << " is not built";
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"block"},
           {"block", "read", "n", "--count", "1"},
           {"block", "read", "n", "--offset", "0", "--count", "0"},
           {"block", "write", "n", "--offset", "0"},
           {"block", "write", "n", "--offset", "0", "--pattern", "256"},
           {"block", "write", "n", "--offset", "0", "--pattern", "1", "--in", TRELLISCTL_BINARY},
           {"block", "bench", "n", "--op", "erase"},
           {"block", "bench", "n", "--depth", "0"},
           {"block", "bench", "n", "--ops", "10", "--time", "1s"},
       }) {
    args.insert(args.begin(), TRELLISCTL_BINARY);
    auto result = RunCommand(args);
    ASSERT_TRUE(result.has_value());
    EXPECT_EQ(result->exit_code, 2) << ::testing::PrintToString(args) << ": " << result->err;
  }
  auto help = RunCommand({TRELLISCTL_BINARY, "block", "bench", "--help"});
  ASSERT_TRUE(help.has_value());
  EXPECT_EQ(help->exit_code, 0);
  EXPECT_THAT(help->out, HasSubstr("--depth"));
  EXPECT_THAT(help->out, HasSubstr("--pattern"));
}

}  // namespace
}  // namespace trellis::tools
