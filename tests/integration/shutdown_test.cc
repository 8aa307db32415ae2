// Orderly stop against the real manager and hosts: a 3-level tree of
// power-probe drivers, each in a host of its own, is shut down children
// first, each driver through PrepareStop then Stop; a driver that hangs in
// PrepareStop has its host killed at its deadline and the rest of the tree
// still stops in order.
#include <gmock/gmock.h>

#include <algorithm>

#include "tests/integration/testing/power_fixture.h"

namespace trellis::testing {
namespace {

class ShutdownTest : public PowerFixture {
 protected:
  // root.sys.p with c0, c1, each with c0, c1: 7 drivers, 7 hosts.
  void StartTree(std::function<void(manager::ManagerOptions&)> tweak = nullptr) {
    StartPowerManager(Board(ProbeNode("p", "trellis,probe", 2, 2, LogProperty())),
                      {{"probe.json", ProbeManifest("probe", "trellis,probe", /*group=*/"")}},
                      std::move(tweak));
    ASSERT_TRUE(WaitUntil([&] { return BoundNodes("probe").size() == 7; }));
  }

  // The log's lines "EVENT NODE" for `event`, in order.
  std::vector<std::string> Logged(const std::string& event) {
    std::vector<std::string> nodes;
    for (const auto& line : ReadLines(log())) {
      if (line.starts_with(event + " ")) nodes.push_back(line.substr(event.size() + 1));
    }
    return nodes;
  }

  // Running, not gone nor a zombie left for its parent to reap.
  static bool Alive(pid_t pid) {
    auto stat = ReadLines("/proc/" + std::to_string(pid) + "/stat");
    if (stat.empty()) return false;
    auto paren = stat[0].rfind(')');
    return paren != std::string::npos && paren + 2 < stat[0].size() && stat[0][paren + 2] != 'Z';
  }

  static ptrdiff_t IndexOf(const std::vector<std::string>& v, const std::string& s) {
    return std::ranges::find(v, s) - v.begin();
  }

  // Every node stopped after all its children, and went through
  // PrepareStop first.
  void ExpectChildrenFirst(const std::vector<std::string>& nodes, const std::string& skip = "") {
    auto stops = Logged("stop");
    auto prepares = Logged("prepare-stop");
    std::vector<std::string> events;
    for (const auto& line : ReadLines(log())) {
      if (line.starts_with("prepare-stop ") || line.starts_with("stop ")) events.push_back(line);
    }
    for (const auto& node : nodes) {
      if (node == skip) continue;
      auto prepared = IndexOf(events, "prepare-stop " + node);
      auto stopped = IndexOf(events, "stop " + node);
      ASSERT_LT(stopped, std::ssize(events)) << node << " never stopped";
      EXPECT_LT(prepared, stopped) << node << ": PrepareStop before Stop";
      for (const auto& child : nodes) {
        if (child == skip || !child.starts_with(node + ".")) continue;
        EXPECT_LT(IndexOf(events, "stop " + child), prepared)
            << child << " stopped before its ancestor " << node << " began to";
      }
    }
  }
};

TEST_F(ShutdownTest, TheTreeStopsChildrenFirstThroughPrepareStopThenStop) {
  StartTree();
  auto nodes = BoundNodes("probe");
  StopManager();
  ExpectChildrenFirst(nodes);
  EXPECT_EQ(Logged("stop").size(), 7u);
}

TEST_F(ShutdownTest, ADriverHungInPrepareStopHasItsHostKilledAndTheRestStillStops) {
  StartTree([](manager::ManagerOptions& options) {
    options.stop_timeout = std::chrono::milliseconds(300);
  });
  const std::string hung = "root.sys.p.c0.c1";
  ASSERT_TRUE(Command(hung, kProbeStopMode, 2).has_value());
  auto node = FindNode(hung);
  ASSERT_TRUE(node.has_value());
  const pid_t host = HostPid(node->host());
  ASSERT_GT(host, 0);
  auto nodes = BoundNodes("probe");
  StopManager();  // Returns: the hung driver does not hold the shutdown up.
  EXPECT_EQ(Logged("stop").size(), 6u) << "all but the hung driver";
  EXPECT_EQ(IndexOf(Logged("prepare-stop"), hung), std::ssize(Logged("prepare-stop")));
  EXPECT_FALSE(Alive(host)) << "the hung driver's host was killed";
  ExpectChildrenFirst(nodes, hung);
}

}  // namespace
}  // namespace trellis::testing
