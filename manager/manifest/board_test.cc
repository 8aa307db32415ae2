#include "manager/manifest/board.h"

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "manager/manifest/testing/json_mutator.h"
#include "manager/manifest/testing/temp_dir.h"

namespace trellis::manager {
namespace {

namespace fs = std::filesystem;
using manifest::v1::SuspendHal;
using testing::TempDir;

const fs::path kBoardSource = "/boards/qemu-virt.json";

// A board with a valid name and driver_dirs; `nodes` is the JSON array of
// top-level nodes and `extra` more fields.
std::string Board(std::string_view nodes = "[]", std::string_view extra = "") {
  std::string json = R"({"name": "qemu-virt", "driver_dirs": ["../drivers"], "nodes": )" +
                     std::string(nodes);
  if (!extra.empty()) json += ", " + std::string(extra);
  return json + "}";
}

// The message of parsing `json`, without the "<source>: " prefix.
std::string BoardError(std::string_view json) {
  auto result = ParseBoard(json, kBoardSource);
  if (result.has_value()) return "<valid>";
  EXPECT_EQ(result.error().code(), ErrorCode::kInvalidArgument);
  std::string prefix = kBoardSource.string() + ": ";
  const std::string& message = result.error().message();
  if (!message.starts_with(prefix)) return "<no file prefix> " + message;
  return message.substr(prefix.size());
}

// A chain of `depth` nested nodes named n1, n2, ...
std::string Chain(int depth) {
  std::string json;
  for (int i = 1; i <= depth; ++i) {
    json += R"([{"name": "n)" + std::to_string(i) + R"(", "children": )";
  }
  json += "[]";
  for (int i = 1; i <= depth; ++i) json += "}]";
  return json;
}

// `count` properties "p0", "p1", ... with int values.
std::string Properties(int count) {
  std::string json = "[";
  for (int i = 0; i < count; ++i) {
    if (i > 0) json += ", ";
    json += R"({"key": "p)" + std::to_string(i) + R"(", "int_value": 1})";
  }
  return json + "]";
}

TEST(BoardTest, LoadsValidBoardAndResolvesDriverDirs) {
  TempDir temp;
  fs::path path = temp.Write("boards/qemu-virt.json", R"({
    "name": "qemu-virt",
    "nodes": [{"name": "sys", "children": [
      {"name": "rtc0", "properties": [{"key": "trellis.compatible", "string_value": "sim,rtc"}]}]}],
    "suspend_hal": {"kind": "SIMULATED"},
    "driver_dirs": ["../drivers", "/opt/trellis/drivers", "extra/./more"]
  })");
  auto board = LoadBoard(path);
  ASSERT_TRUE(board) << board.error().ToString();
  EXPECT_EQ(board->source, path);
  EXPECT_EQ(board->board.name(), "qemu-virt");
  EXPECT_EQ(board->board.nodes(0).children(0).properties(0).string_value(), "sim,rtc");
  EXPECT_EQ(board->driver_dirs,
            (std::vector<fs::path>{temp.path() / "drivers", "/opt/trellis/drivers",
                                   temp.path() / "boards" / "extra" / "more"}));
}

TEST(BoardTest, LoadOfMissingFileIsNotFound) {
  TempDir temp;
  auto board = LoadBoard(temp.path() / "none.json");
  ASSERT_FALSE(board);
  EXPECT_EQ(board.error().code(), ErrorCode::kNotFound);
}

TEST(BoardTest, NameIsRequiredAndChecked) {
  EXPECT_EQ(BoardError(R"({"driver_dirs": ["d"]})"), "field 'name': must not be empty");
  EXPECT_EQ(BoardError(R"({"name": "QEMU", "driver_dirs": ["d"]})"),
            "field 'name': 'QEMU' is not a valid name: use 1 to 63 characters from [a-z0-9._-], "
            "starting with a lower-case letter or digit");
}

TEST(BoardTest, NodeNameIsRequired) {
  EXPECT_EQ(BoardError(Board(R"([{"name": "sys"}, {"properties": []}])")),
            "field 'nodes[1].name': must not be empty");
}

TEST(BoardTest, NodeNameMustNotContainDots) {
  EXPECT_EQ(BoardError(Board(R"([{"name": "sys", "children": [{"name": "disk.0"}]}])")),
            "field 'nodes[0].children[0].name': 'disk.0' is not a valid node name: use 1 to 63 "
            "characters from [A-Za-z0-9_-] (no '.', node paths are dotted)");
  EXPECT_EQ(BoardError(Board(R"([{"name": ")" + std::string(64, 'n') + R"("}])")),
            "field 'nodes[0].name': '" + std::string(64, 'n') +
                "' is not a valid node name: use 1 to 63 characters from [A-Za-z0-9_-] (no '.', "
                "node paths are dotted)");
  EXPECT_EQ(BoardError(Board(R"([{"name": "Disk_0-A"}])")), "<valid>");
}

TEST(BoardTest, DuplicateSiblingNameIsRejected) {
  EXPECT_EQ(BoardError(Board(R"([{"name": "sys", "children": [
                             {"name": "disk0"}, {"name": "disk1"}, {"name": "disk0"}]}])")),
            "field 'nodes[0].children[2].name': duplicate sibling name 'disk0'");
}

TEST(BoardTest, SameNameUnderDifferentParentsIsAllowed) {
  EXPECT_EQ(BoardError(Board(R"([{"name": "a", "children": [{"name": "disk0"}]},
                            {"name": "b", "children": [{"name": "disk0"}]}])")),
            "<valid>");
}

TEST(BoardTest, PropertyKeyMustNotBeEmpty) {
  EXPECT_EQ(BoardError(Board(R"([{"name": "sys", "properties": [{"key": "", "int_value": 1}]}])")),
            "field 'nodes[0].properties[0].key': must not be empty");
}

TEST(BoardTest, PropertyKeyIsAtMost128Characters) {
  std::string key(129, 'k');
  EXPECT_EQ(BoardError(Board(R"([{"name": "sys", "properties": [{"key": ")" + key +
                        R"(", "int_value": 1}]}])")),
            "field 'nodes[0].properties[0].key': is 129 characters long, at most 128 are "
            "allowed");
  key.pop_back();
  EXPECT_EQ(BoardError(Board(R"([{"name": "sys", "properties": [{"key": ")" + key +
                        R"(", "int_value": 1}]}])")),
            "<valid>");
}

TEST(BoardTest, PropertyValueMustBeSet) {
  EXPECT_EQ(BoardError(Board(R"([{"name": "sys", "properties": [{"key": "a", "bool_value": false},
                                                            {"key": "b"}]}])")),
            "field 'nodes[0].properties[1]': no value set");
}

TEST(BoardTest, DuplicatePropertyKeyIsRejected) {
  EXPECT_EQ(BoardError(Board(R"([{"name": "sys", "properties": [{"key": "a", "int_value": 1},
                                                            {"key": "a", "int_value": 2}]}])")),
            "field 'nodes[0].properties[1].key': duplicate key 'a'");
}

TEST(BoardTest, AtMost64PropertiesPerNode) {
  EXPECT_EQ(BoardError(Board(R"([{"name": "sys", "properties": )" + Properties(65) + "}]")),
            "field 'nodes[0].properties': has 65 properties, at most 64 are allowed");
  EXPECT_EQ(BoardError(Board(R"([{"name": "sys", "properties": )" + Properties(64) + "}]")),
            "<valid>");
}

TEST(BoardTest, TreeIsAtMost16LevelsDeep) {
  EXPECT_EQ(BoardError(Board(Chain(16))), "<valid>");
  std::string field = "nodes[0]";
  for (int i = 2; i <= 17; ++i) field += ".children[0]";
  EXPECT_EQ(BoardError(Board(Chain(17))),
            "field '" + field + "': node tree is deeper than 16 levels");
}

TEST(BoardTest, AtLeastOneDriverDirIsRequired) {
  EXPECT_EQ(BoardError(R"({"name": "b"})"),
            "field 'driver_dirs': at least one driver directory is required");
  EXPECT_EQ(BoardError(R"({"name": "b", "driver_dirs": ["d", ""]})"),
            "field 'driver_dirs[1]': must not be empty");
}

TEST(BoardTest, LinuxSysfsDefaultsItsStatePath) {
  auto board = ParseBoard(Board("[]", R"("suspend_hal": {"kind": "LINUX_SYSFS"})"), kBoardSource);
  ASSERT_TRUE(board) << board.error().ToString();
  EXPECT_EQ(board->board.suspend_hal().kind(), SuspendHal::LINUX_SYSFS);
  EXPECT_EQ(board->board.suspend_hal().state_path(), "/sys/power/state");
}

TEST(BoardTest, LinuxSysfsKeepsAGivenAbsoluteStatePath) {
  auto board = ParseBoard(
      Board("[]", R"("suspend_hal": {"kind": "LINUX_SYSFS", "state_path": "/tmp/state"})"),
      kBoardSource);
  ASSERT_TRUE(board) << board.error().ToString();
  EXPECT_EQ(board->board.suspend_hal().state_path(), "/tmp/state");
  EXPECT_EQ(BoardError(Board("[]", R"("suspend_hal": {"kind": "LINUX_SYSFS", "state_path": "state"})")),
            "field 'suspend_hal.state_path': must be an absolute path for LINUX_SYSFS, got "
            "'state'");
}

TEST(BoardTest, SimulatedAndUnspecifiedHalsAreAllowed) {
  EXPECT_EQ(BoardError(Board("[]", R"("suspend_hal": {"kind": "SIMULATED"})")), "<valid>");
  EXPECT_EQ(BoardError(Board("[]", R"("suspend_hal": {"kind": "UNSPECIFIED"})")), "<valid>");
  EXPECT_EQ(BoardError(Board("[]", R"("suspend_hal": {"state_path": "/tmp/mirror"})")), "<valid>");
  auto board = ParseBoard(Board(), kBoardSource);
  ASSERT_TRUE(board);
  EXPECT_EQ(board->board.suspend_hal().state_path(), "");
}

TEST(BoardTest, UnknownHalKindIsRejected) {
  EXPECT_EQ(BoardError(Board("[]", R"("suspend_hal": {"kind": 7})")),
            "field 'suspend_hal.kind': unknown suspend HAL kind 7");
}

TEST(BoardTest, RandomMutationsNeverCrashAndErrorsNameTheFile) {
  const std::string seed = R"({
    "name": "qemu-virt",
    "nodes": [{"name": "sys", "children": [
      {"name": "rtc0", "properties": [{"key": "trellis.compatible", "string_value": "sim,rtc"},
                                      {"key": "irq", "int_value": 8}]},
      {"name": "disk0", "properties": [{"key": "removable", "bool_value": false}]}]}],
    "suspend_hal": {"kind": "LINUX_SYSFS"},
    "driver_dirs": ["../drivers"]
  })";
  ASSERT_TRUE(ParseBoard(seed, kBoardSource));
  testing::JsonMutator mutator(/*seed=*/0xb0a2d);
  for (int i = 0; i < 1000; ++i) {
    auto board = ParseBoard(mutator.Mutate(seed), kBoardSource);
    if (board.has_value()) continue;
    EXPECT_EQ(board.error().code(), ErrorCode::kInvalidArgument) << "mutation " << i;
    EXPECT_TRUE(board.error().message().starts_with(kBoardSource.string() + ":"))
        << "mutation " << i << ": " << board.error().message();
  }
}

}  // namespace
}  // namespace trellis::manager
