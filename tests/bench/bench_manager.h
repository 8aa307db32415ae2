// For benchmarks that run against a live manager: start one on a board in a
// directory, and bind a client to a node. Benchmarks cannot report a broken
// set-up, so both abort with the reason on stderr.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "manager/manager.h"

namespace trellis::bench {

// A manager on `dir`/board.json with its runtime dir in `dir`/run, idle (every
// driver started) when it returns. `host_binary` is the trellis-host to run.
std::unique_ptr<manager::Manager> StartManager(const std::filesystem::path& dir,
                                               const std::string& host_binary);

// DriverManager.Bind(node_path, protocol) on `manager`.
manager::v1::BindResponse Bind(manager::Manager& manager, const std::string& node_path,
                               const std::string& protocol);

}  // namespace trellis::bench
