// TrellisctlFixture: a real trellis-manager child process on a board written
// to a fresh temp dir, and the real trellisctl run against it. Needs
// TRELLIS_MANAGER_BINARY and TRELLISCTL_BINARY defined to their paths.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tools/trellisctl/testing/subprocess.h"

namespace trellis::tools::testing {

class TrellisctlFixture : public ::testing::Test {
 protected:
  // Makes the temp dir; skips the test if the manager or trellisctl is not
  // built (a subclass's SetUp returns if IsSkipped()).
  void SetUp() override;
  // Stops the manager with SIGINT, expecting a clean exit, and removes the
  // temp dir.
  void TearDown() override;

  // Writes `board` to board.json in the temp dir and starts the manager on
  // it, with its runtime dir there too.
  void StartManager(const nlohmann::json& board);
  // Runs trellisctl --endpoint <ours> args... and returns what it printed.
  CommandResult Trellisctl(std::vector<std::string> args);
  // Polls `nodes --json` until `ready` holds for the parsed list; fails the
  // test if it does not within the boot timeout, naming `what`.
  void WaitForNodes(const std::function<bool(const nlohmann::json& nodes)>& ready,
                    std::string_view what);

  std::filesystem::path dir_;
  std::string endpoint_;
  std::optional<ChildProcess> manager_;
};

}  // namespace trellis::tools::testing
