// The driver SDK as an outside user gets it: `cmake --install` to a temp
// prefix, examples/out-of-tree-driver configured with find_package(Trellis)
// and built against that prefix only, then the installed trellis-manager on
// the default board with the example's driver directory: the example binds
// to the "boot" partition and answers through the installed trellisctl.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "tools/trellisctl/testing/subprocess.h"

namespace trellis::testing {
namespace {

namespace fs = std::filesystem;
using tools::testing::ChildProcess;
using tools::testing::CommandResult;
using tools::testing::RunCommand;

CommandResult MustRun(const std::vector<std::string>& argv,
                      std::chrono::seconds timeout = std::chrono::seconds(300)) {
  auto result = RunCommand(argv, timeout);
  EXPECT_TRUE(result.has_value()) << result.error().ToString();
  if (!result) return {};
  EXPECT_EQ(result->exit_code, 0) << argv[0] << " " << (argv.size() > 1 ? argv[1] : "") << ":\n"
                                  << result->out << result->err;
  return *result;
}

TEST(SdkTest, AnOutOfTreeDriverBuildsAgainstTheInstalledSdkAndBindsOnTheDefaultBoard) {
  const fs::path source = TRELLIS_SOURCE_DIR;
  const fs::path build = TRELLIS_BINARY_DIR;
  if (build != source / "build") {
    GTEST_SKIP() << "installs the regular build (build/), not " << build;
  }
  std::string pattern = (fs::temp_directory_path() / "trellis-sdk-XXXXXX").string();
  ASSERT_NE(mkdtemp(pattern.data()), nullptr);
  const fs::path dir = pattern;
  const fs::path prefix = dir / "prefix";

  MustRun({"/usr/bin/cmake", "--install", build.string(), "--prefix", prefix.string()});
  ASSERT_TRUE(fs::exists(prefix / "lib/cmake/Trellis/TrellisConfig.cmake"));
  ASSERT_TRUE(fs::exists(prefix / "include/trellis/runtime/driver/driver.h"));
  MustRun({"/usr/bin/cmake", "-S", (source / "examples/out-of-tree-driver").string(), "-B",
           (dir / "example").string(), "-G", "Ninja", "-DCMAKE_PREFIX_PATH=" + prefix.string()});
  MustRun({"/usr/bin/cmake", "--build", (dir / "example").string()});
  ASSERT_TRUE(fs::exists(dir / "example/drivers/libpartition_info_driver.so"));
  ASSERT_FALSE(HasFailure());

  // The default board, as scripts/run starts it, plus the example's drivers.
  const fs::path run = dir / "run";
  fs::create_directories(run);
  MustRun({"/bin/bash", "-c",
           "source " + (source / "scripts/lib.sh").string() + " && trellis_make_disk " +
               (run / "disk0.img").string()});
  ASSERT_EQ(setenv("TRELLIS_RUNTIME_DIR", run.c_str(), 1), 0);
  auto manager = ChildProcess::Spawn(
      {(prefix / "bin/trellis-manager").string(), "--board",
       (source / "manifests/boards/default.json").string(), "--runtime-dir", run.string(),
       "--driver-dir", (dir / "example/drivers").string()});
  ASSERT_TRUE(manager.has_value()) << manager.error().ToString();
  const std::string trellisctl = (prefix / "bin/trellisctl").string();
  std::string driver;
  for (int i = 0; i < 600 && driver != "partition-info" && manager->TryRunning(); ++i) {
    auto nodes = RunCommand({trellisctl, "nodes", "--json"});
    if (nodes && nodes->exit_code == 0) {
      auto json = nlohmann::json::parse(nodes->out, nullptr, false);
      if (json.is_array()) {
        for (const auto& node : json) {
          if (node.value("path", "") == "root.sys.disk0.block.p1" &&
              node.value("state", "") == "bound") {
            driver = node.value("driver", "");
          }
        }
      }
    }
    if (driver != "partition-info") usleep(100'000);
  }
  ASSERT_EQ(driver, "partition-info") << "root.sys.disk0.block.p1 is not running the example";
  // Minor 1: the partition's size in blocks (8 MiB of 512-byte blocks).
  CommandResult size = MustRun({trellisctl, "device", "command", "root.sys.disk0.block.p1", "1"});
  EXPECT_EQ(size.out, "16384\n");

  // The systemd unit example, pointed at this prefix, is a valid unit: no
  // warning either (systemd-analyze exits 0 on keys it ignores).
  if (fs::exists("/usr/bin/systemd-analyze")) {
    CommandResult verified = MustRun({"/bin/sh", "-c",
             "sed -e 's|/usr/local|" + prefix.string() + "|g' -e 's|/etc/trellis/board.json|" +
                 (source / "manifests/boards/default.json").string() + "|' " +
                 (source / "examples/systemd/trellis-manager.service").string() + " > " +
                 (dir / "trellis-manager.service").string() +
                 " && /usr/bin/systemd-analyze verify " +
                 (dir / "trellis-manager.service").string()});
    EXPECT_EQ(verified.out + verified.err, "");
  }

  manager->Signal(SIGINT);
  auto status = manager->WaitForExit(std::chrono::seconds(30));
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace
}  // namespace trellis::testing
