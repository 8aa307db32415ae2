#include "manager/manifest/driver_index.h"

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "manager/manifest/board.h"
#include "manager/manifest/testing/temp_dir.h"

namespace trellis::manager {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

std::string Manifest(std::string_view name) {
  return R"({"name": ")" + std::string(name) + R"(", "binary": "libdriver.so"})";
}

std::vector<std::string> Names(const DriverIndexLoad& load) {
  std::vector<std::string> names;
  for (const auto& driver : load.drivers) names.push_back(driver.manifest.name());
  return names;
}

TEST(DriverIndexTest, LoadsEveryJsonFileSortedByName) {
  TempDir temp;
  temp.Write("d/libdriver.so", "x");
  temp.Write("d/zeta.json", Manifest("zeta"));
  temp.Write("d/alpha.json", Manifest("alpha"));
  temp.Write("d/mid.json", Manifest("mid"));
  temp.Write("d/notes.txt", "not a manifest");
  temp.Write("d/nested/deep.json", Manifest("deep"));  // not scanned: no recursion
  fs::create_directory(temp.path() / "d" / "dir.json");  // a directory: skipped
  DriverIndexLoad load = LoadDriverDirectories({temp.path() / "d"});
  EXPECT_TRUE(load.errors.empty()) << load.errors.front().ToString();
  EXPECT_EQ(Names(load), (std::vector<std::string>{"alpha", "mid", "zeta"}));
}

TEST(DriverIndexTest, BadManifestIsSkippedAndReported) {
  TempDir temp;
  temp.Write("d/libdriver.so", "x");
  temp.Write("d/a.json", Manifest("good-a"));
  fs::path bad = temp.Write("d/b.json", R"({"name": "bad", "binary": "libdriver.so", "x": 1})");
  temp.Write("d/c.json", Manifest("good-c"));
  DriverIndexLoad load = LoadDriverDirectories({temp.path() / "d"});
  EXPECT_EQ(Names(load), (std::vector<std::string>{"good-a", "good-c"}));
  ASSERT_EQ(load.errors.size(), 1u);
  EXPECT_EQ(load.errors[0].code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(load.errors[0].message(), bad.string() + ": field 'x': unknown field 'x'");
}

TEST(DriverIndexTest, DuplicateDriverNameIsRejected) {
  TempDir temp;
  temp.Write("one/libdriver.so", "x");
  temp.Write("two/libdriver.so", "x");
  fs::path first = temp.Write("one/echo.json", Manifest("echo"));
  fs::path second = temp.Write("two/echo-again.json", Manifest("echo"));
  DriverIndexLoad load = LoadDriverDirectories({temp.path() / "one", temp.path() / "two"});
  EXPECT_EQ(Names(load), (std::vector<std::string>{"echo"}));
  EXPECT_EQ(load.drivers[0].source, first);
  ASSERT_EQ(load.errors.size(), 1u);
  EXPECT_EQ(load.errors[0].message(),
            second.string() + ": field 'name': duplicate driver name 'echo' (first defined in " +
                first.string() + ")");
}

TEST(DriverIndexTest, MissingDirectoryIsOneError) {
  TempDir temp;
  temp.Write("d/libdriver.so", "x");
  temp.Write("d/echo.json", Manifest("echo"));
  fs::path missing = temp.path() / "missing";
  DriverIndexLoad load = LoadDriverDirectories({missing, temp.path() / "d"});
  EXPECT_EQ(Names(load), (std::vector<std::string>{"echo"}));
  ASSERT_EQ(load.errors.size(), 1u);
  EXPECT_EQ(load.errors[0].code(), ErrorCode::kNotFound);
  EXPECT_EQ(load.errors[0].message(),
            missing.string() + ": cannot list driver directory: No such file or directory");
}

TEST(DriverIndexTest, DanglingSymlinkIsReportedNotSkipped) {
  TempDir temp;
  fs::create_directory(temp.path() / "d");
  fs::create_symlink(temp.path() / "nowhere.json", temp.path() / "d" / "ghost.json");
  DriverIndexLoad load = LoadDriverDirectories({temp.path() / "d"});
  EXPECT_TRUE(load.drivers.empty());
  ASSERT_EQ(load.errors.size(), 1u);
  EXPECT_EQ(load.errors[0].code(), ErrorCode::kNotFound);
}

// The sample files in tests/testdata/manifests load as documented.
TEST(DriverIndexTest, TestdataSamplesLoad) {
  const fs::path testdata = TRELLIS_MANIFEST_TESTDATA_DIR;
  auto board = LoadBoard(testdata / "boards" / "qemu-virt.json");
  ASSERT_TRUE(board) << board.error().ToString();
  ASSERT_EQ(board->driver_dirs.size(), 1u);
  EXPECT_EQ(board->driver_dirs[0], (testdata / "drivers").lexically_normal());

  DriverIndexLoad load = LoadDriverDirectories(board->driver_dirs);
  EXPECT_TRUE(load.errors.empty()) << load.errors.front().ToString();
  EXPECT_EQ(Names(load), (std::vector<std::string>{"echo"}));

  DriverIndexLoad bad = LoadDriverDirectories({testdata / "bad"});
  EXPECT_TRUE(bad.drivers.empty());
  std::vector<std::string> messages;
  for (const Error& error : bad.errors) messages.push_back(error.message());
  const std::string dir = (testdata / "bad").string();
  EXPECT_EQ(messages,
            (std::vector<std::string>{
                dir + "/escaping_binary.json: field 'binary': '../drivers/libecho.so' escapes "
                      "the driver directory " + fs::canonical(testdata / "bad").string(),
                dir + "/unknown_field.json: field 'bind.accept[0].valu': unknown field 'valu'",
            }));
}

}  // namespace
}  // namespace trellis::manager
