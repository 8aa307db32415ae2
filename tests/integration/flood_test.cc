// Floods against a real manager on loopback (its Unix socket): thousands of
// connections or streams from one process, while a legitimate client in
// another process keeps calling. The flood is capped (the acceptor closes
// what is over its caps), the legitimate client's every call succeeds (its
// p50/p99 latency is printed for docs/reliability.md), and once the flood
// ends every connection is gone and the manager's fd count is back.
#include <dirent.h>
#include <gmock/gmock.h>
#include <signal.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "tests/integration/testing/manager_fixture.h"
#include "tools/trellisctl/testing/subprocess.h"
#include "trellis/power/v1/power.grpc.pb.h"

namespace trellis::testing {
namespace {

namespace fs = std::filesystem;
using tools::testing::ChildProcess;

int OpenFds() {
  int count = 0;
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  while (dirent* entry = readdir(dir)) count += entry->d_name[0] != '.';
  closedir(dir);
  return count;
}

class FloodTest : public ManagerFixture {
 protected:
  void Start(size_t max_connections, size_t per_process) {
    StartManager(Board(EchoNode("echo", 0, 0)), {{"echo.json", EchoManifest()}},
                 [=](manager::ManagerOptions& options) {
                   options.connections.max_connections = max_connections;
                   options.connections.max_connections_per_process = per_process;
                 });
    ASSERT_TRUE(WaitForNodeState("root.sys.echo", node::v1::NODE_STATE_BOUND));
  }

  // peer_probe with `args`, its stdout in a file; returns once it printed
  // "ready" (or failed the test).
  std::optional<ChildProcess> StartProbe(const std::vector<std::string>& args) {
    fs::path out = dir_.path() / ("probe-" + std::to_string(++probes_) + ".out");
    std::string command = std::string(TRELLIS_PEER_PROBE_BINARY);
    for (const auto& arg : args) command += " '" + arg + "'";
    auto probe = ChildProcess::Spawn({"/bin/sh", "-c", "exec " + command + " > " + out.string()});
    EXPECT_TRUE(probe.has_value()) << probe.error().ToString();
    if (!probe) return std::nullopt;
    bool ready = WaitUntil(
        [&] {
          std::stringstream text;
          text << std::ifstream(out).rdbuf();
          return text.str().find("ready") != std::string::npos || !probe->TryRunning();
        },
        std::chrono::seconds(60));
    EXPECT_TRUE(ready && probe->TryRunning()) << "peer_probe did not get ready";
    return std::move(*probe);
  }

  // `calls` Power.Status calls on a channel of their own; every one must
  // succeed. Prints and returns the p99 in microseconds.
  double LegitimateClient(const std::string& during, int calls = 1000) {
    auto channel = grpc::CreateChannel(manager_->endpoint(), grpc::InsecureChannelCredentials());
    auto power = power::v1::Power::NewStub(channel);
    std::vector<double> micros;
    int failed = 0;
    for (int i = 0; i < calls; ++i) {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      power::v1::StatusResponse response;
      auto start = std::chrono::steady_clock::now();
      grpc::Status status = power->Status(&context, {}, &response);
      micros.push_back(std::chrono::duration<double, std::micro>(
                           std::chrono::steady_clock::now() - start)
                           .count());
      if (!status.ok()) {
        ++failed;
        ADD_FAILURE() << "call " << i << ": " << status.error_message();
      }
    }
    std::sort(micros.begin(), micros.end());
    double p50 = micros[micros.size() / 2];
    double p99 = micros[micros.size() * 99 / 100];
    std::printf("legitimate client during %s: %d/%d Status calls ok, p50 %.0f us, p99 %.0f us\n",
                during.c_str(), calls - failed, calls, p50, p99);
    return p99;
  }

  int probes_ = 0;
};

TEST_F(FloodTest, AConnectionFloodFromOneProcessIsCappedAndOthersAreServed) {
  Start(/*max_connections=*/1024, /*per_process=*/32);
  LegitimateClient("nothing (baseline)", 200);
  const int fds_before = OpenFds();
  const size_t live_before = manager_->connection_stats().live;

  // 1000 connections, then a new one for every one it closes, nonstop.
  auto probe = StartProbe({"connections", manager_->endpoint().substr(5), "1000", "churn"});
  ASSERT_TRUE(probe);
  // 32 held, every other one closed at once.
  EXPECT_TRUE(WaitUntil([&] { return manager_->connection_stats().refused_over_per_process >= 968; }))
      << manager_->connection_stats().refused_over_per_process;
  const uint64_t refused_before = manager_->connection_stats().refused_over_per_process;
  LegitimateClient("a flood of 1000 connections, churning");
  // The churn went on all along (each new connection over the cap refused).
  EXPECT_GT(manager_->connection_stats().refused_over_per_process, refused_before);
  EXPECT_EQ(manager_->connection_stats().refused_over_total, 0u);

  probe->Signal(SIGKILL);
  EXPECT_TRUE(WaitUntil([&] { return manager_->connection_stats().live <= live_before; }))
      << manager_->connection_stats().live << " connections open, " << live_before << " before";
  EXPECT_TRUE(WaitUntil([&] { return OpenFds() <= fds_before; }))
      << OpenFds() << " fds open, " << fds_before << " before";
}

TEST_F(FloodTest, ConnectionsOverTheTotalCapAreClosedAndTheSocketRecovers) {
  Start(/*max_connections=*/64, /*per_process=*/1000);
  const size_t live_before = manager_->connection_stats().live;
  auto probe = StartProbe({"connections", manager_->endpoint().substr(5), "200"});
  ASSERT_TRUE(probe);
  const uint64_t expected_refused = 200 - (64 - live_before);
  EXPECT_TRUE(WaitUntil(
      [&] { return manager_->connection_stats().refused_over_total == expected_refused; }))
      << manager_->connection_stats().refused_over_total;
  probe->Signal(SIGKILL);
  EXPECT_TRUE(WaitUntil([&] { return manager_->connection_stats().live <= live_before; }));
  LegitimateClient("the moments after a flood over the total cap", 100);
}

TEST_F(FloodTest, AStreamFloodLeavesALegitimateClientServedAndFreesEverythingWhenItEnds) {
  Start(/*max_connections=*/1024, /*per_process=*/64);
  LegitimateClient("nothing (baseline)", 200);
  const int fds_before = OpenFds();
  const size_t live_before = manager_->connection_stats().live;

  // 16 connections of 256 Power.Watch streams each: 4096 open streams.
  auto probe = StartProbe({"streams", manager_->endpoint(), "16", "256"});
  ASSERT_TRUE(probe);
  LegitimateClient("4096 open streams");

  probe->Signal(SIGKILL);
  EXPECT_TRUE(WaitUntil([&] { return manager_->connection_stats().live <= live_before; }));
  EXPECT_TRUE(WaitUntil([&] { return OpenFds() <= fds_before; }))
      << OpenFds() << " fds open, " << fds_before << " before";
}

}  // namespace
}  // namespace trellis::testing
