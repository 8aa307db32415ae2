// TrellisctlFixture: temp dir, manager process, trellisctl runs.
#include "tools/trellisctl/testing/trellisctl_fixture.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <thread>

namespace trellis::tools::testing {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr auto kBootTimeout = std::chrono::seconds(60);
constexpr auto kStopTimeout = std::chrono::seconds(30);
constexpr auto kFixturePollInterval = std::chrono::milliseconds(50);

}  // namespace

void TrellisctlFixture::SetUp() {
  for (const char* binary : {TRELLIS_MANAGER_BINARY, TRELLISCTL_BINARY}) {
    if (!fs::exists(binary)) GTEST_SKIP() << binary << " is not built";
  }
  std::string dir_template = (fs::temp_directory_path() / "trellisctl-it-XXXXXX").string();
  ASSERT_NE(mkdtemp(dir_template.data()), nullptr);
  dir_ = dir_template;
}

void TrellisctlFixture::TearDown() {
  if (manager_) {
    manager_->Signal(SIGINT);
    std::optional<int> status = manager_->WaitForExit(kStopTimeout);
    ASSERT_TRUE(status.has_value()) << "trellis-manager did not stop on SIGINT";
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
        << "trellis-manager ended with wait status " << *status;
  }
  if (!dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

void TrellisctlFixture::StartManager(const nlohmann::json& board) {
  fs::path board_file = dir_ / "board.json";
  std::ofstream(board_file) << board.dump(2);
  fs::path runtime_dir = dir_ / "run";
  endpoint_ = "unix:" + (runtime_dir / "manager.sock").string();
  auto manager = ChildProcess::Spawn({TRELLIS_MANAGER_BINARY, "--board", board_file.string(),
                                      "--runtime-dir", runtime_dir.string()});
  ASSERT_TRUE(manager.has_value()) << manager.error().ToString();
  manager_.emplace(std::move(*manager));
}

CommandResult TrellisctlFixture::Trellisctl(std::vector<std::string> args) {
  args.insert(args.begin(), {TRELLISCTL_BINARY, "--endpoint", endpoint_});
  auto result = RunCommand(args);
  EXPECT_TRUE(result.has_value()) << result.error().ToString();
  return result.value_or(CommandResult{});
}

void TrellisctlFixture::WaitForNodes(const std::function<bool(const nlohmann::json&)>& ready,
                                     std::string_view what) {
  auto deadline = Clock::now() + kBootTimeout;
  std::string socket = endpoint_.substr(std::string_view("unix:").size());
  CommandResult last;
  while (Clock::now() < deadline) {
    ASSERT_TRUE(manager_->TryRunning()) << "trellis-manager exited during boot";
    if (fs::exists(socket)) {
      last = Trellisctl({"nodes", "--json"});
      if (last.exit_code == 0) {
        auto nodes = nlohmann::json::parse(last.out, nullptr, /*allow_exceptions=*/false);
        if (nodes.is_array() && ready(nodes)) return;
      }
    }
    std::this_thread::sleep_for(kFixturePollInterval);
  }
  FAIL() << what << " did not happen within " << kBootTimeout.count()
         << " s; last `nodes --json`: exit " << last.exit_code << "\n"
         << last.out << last.err;
}

}  // namespace trellis::tools::testing
