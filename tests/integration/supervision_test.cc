// Host crashes: restart with the node kept in place, removal without restart,
// quarantine of a crash loop, and clients seeing UNAVAILABLE rather than a hang.
#include <signal.h>
#include <sys/syscall.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <map>

#include "tests/integration/testing/manager_fixture.h"

namespace trellis::testing {
namespace {

using namespace std::chrono_literals;
using node::v1::NODE_STATE_BOUND;
using node::v1::NODE_STATE_QUARANTINED;

// True once some thread of `pid` is blocked in clock_nanosleep: the echo
// driver's command 98 has started.
bool SomeThreadSleeps(pid_t pid) {
  std::error_code ec;
  for (const auto& task :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::ifstream in(task.path() / "syscall");
    long number = -1;
    if (in >> number && number == SYS_clock_nanosleep) return true;
  }
  return false;
}

class SupervisionTest : public ManagerFixture {
 protected:
  std::map<std::string, pid_t> PidsByNode() {
    std::map<std::string, pid_t> pids;
    for (const auto& node : Nodes()) {
      if (!node.host().empty()) pids[node.path()] = HostPid(node.host());
    }
    return pids;
  }
};

TEST_F(SupervisionTest, HostKilledMidCallFailsTheCallPromptlyAndRestartsInPlace) {
  StartManager(Board(EchoNode("echo", 1, 1) + "," + EchoNode("other", 0, 0)),
               {{"echo.json", EchoManifest()}});
  auto before = PidsByNode();
  pid_t victim = before.at("root.sys.echo");
  Bound bound = BindDevice("root.sys.echo");

  // A call that keeps the driver busy for 20 s...
  auto call = std::async(std::launch::async, [&] {
    device::v1::CommandRequest request;
    request.set_minor_num(98);
    request.set_arg1(20'000);
    device::v1::CommandResponse response;
    auto start = std::chrono::steady_clock::now();
    grpc::Status status = bound.device->Command(WithToken(bound.token, 30s).get(), request, &response);
    return std::make_pair(status, std::chrono::steady_clock::now() - start);
  });
  ASSERT_TRUE(WaitUntil([&] { return SomeThreadSleeps(victim); })) << "command 98 never started";
  // ...is in flight when its host dies.
  ASSERT_EQ(kill(victim, SIGKILL), 0);
  auto [status, elapsed] = call.get();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_LT(elapsed, 10s) << "the client waited for the dead host";

  // The node keeps its place and comes back in a new host, children too.
  ASSERT_TRUE(WaitUntil([&] {
    auto node = FindNode("root.sys.echo");
    auto child = FindNode("root.sys.echo.echo0");
    return node && node->state() == NODE_STATE_BOUND && node->restart_count() == 1 && child &&
           child->state() == NODE_STATE_BOUND;
  }));
  auto after = PidsByNode();
  EXPECT_NE(after.at("root.sys.echo"), victim);
  EXPECT_EQ(after.at("root.sys.other"), before.at("root.sys.other"))
      << "a driver in another host was disturbed";

  // The old token died with the old driver instance.
  Bound again = BindDevice("root.sys.echo");
  device::v1::CommandRequest request;
  request.set_minor_num(1);
  request.set_arg1(20);
  request.set_arg2(22);
  device::v1::CommandResponse response;
  ASSERT_TRUE(again.device->Command(WithToken(again.token).get(), request, &response).ok());
  EXPECT_EQ(response.value(), 42);
}

TEST_F(SupervisionTest, WithoutRestartTheNodeAndItsSubtreeAreRemoved) {
  StartManager(Board(EchoNode("echo", 1, 2) + "," + EchoNode("other", 0, 0)),
               {{"echo.json", EchoManifest({{"host_restart_on_crash", "false"}})}});
  auto before = PidsByNode();
  pid_t child_host = before.at("root.sys.echo.echo1");
  ASSERT_EQ(kill(before.at("root.sys.echo"), SIGKILL), 0);
  ASSERT_TRUE(WaitUntil([&] { return !FindNode("root.sys.echo"); }));
  EXPECT_FALSE(FindNode("root.sys.echo.echo0"));
  EXPECT_FALSE(FindNode("root.sys.echo.echo1"));
  // The children's drivers were stopped and their own hosts let go.
  EXPECT_TRUE(WaitUntil([&] { return kill(child_host, 0) != 0; }));
  auto after = PidsByNode();
  EXPECT_EQ(after.at("root.sys.other"), before.at("root.sys.other"));
}

TEST_F(SupervisionTest, CrashLoopingDriverIsQuarantinedAfterItsRestarts) {
  StartManager(Board(EchoNode("loop", 0, 0, R"({"key": "echo.crash_on_start", "bool_value": true})") +
                     "," + EchoNode("fine", 0, 0)),
               {{"echo.json", EchoManifest({{"max_restarts", "2"}})}});
  ASSERT_TRUE(WaitForNodeState("root.sys.loop", NODE_STATE_QUARANTINED));
  auto node = FindNode("root.sys.loop");
  ASSERT_TRUE(node);
  EXPECT_EQ(node->restart_count(), 2u);
  // Quarantine is final: no further restarts, and the neighbour is fine.
  ASSERT_TRUE(manager_->WaitForIdle(10s));
  EXPECT_EQ(FindNode("root.sys.loop")->state(), NODE_STATE_QUARANTINED);
  EXPECT_EQ(FindNode("root.sys.fine")->state(), NODE_STATE_BOUND);
}

TEST_F(SupervisionTest, EventsReportTheCrashAndTheQuarantine) {
  StartManager(Board(EchoNode("fine", 0, 0)), {{"echo.json", EchoManifest({{"max_restarts", "0"}})}});
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 20s);
  auto events = stub().WatchEvents(&context, manager::v1::WatchEventsRequest());
  // Initial metadata arrives once the manager has registered the watcher.
  events->WaitForInitialMetadata();
  ASSERT_EQ(kill(PidsByNode().at("root.sys.fine"), SIGKILL), 0);
  bool crashed = false;
  bool quarantined = false;
  manager::v1::TopologyEvent event;
  while (!(crashed && quarantined) && events->Read(&event)) {
    crashed |= event.kind() == manager::v1::TopologyEvent::KIND_HOST_CRASHED &&
               event.detail().find("signal 9") != std::string::npos;
    quarantined |= event.kind() == manager::v1::TopologyEvent::KIND_NODE_QUARANTINED &&
                   event.node_path() == "root.sys.fine";
  }
  EXPECT_TRUE(crashed);
  EXPECT_TRUE(quarantined);
  context.TryCancel();
}

grpc::Status RestartHost(manager::v1::DriverManager::Stub& stub, const std::string& id,
                         manager::v1::RestartHostResponse* response) {
  grpc::ClientContext context;
  manager::v1::RestartHostRequest request;
  request.set_host_id(id);
  return stub.RestartHost(&context, request, response);
}

TEST_F(SupervisionTest, RestartHostKeepsItsIdAndResetsTheRestartBudget) {
  StartManager(Board(EchoNode("echo", 1, 1)), {{"echo.json", EchoManifest()}});
  auto node = FindNode("root.sys.echo");
  ASSERT_TRUE(node);
  std::string host = node->host();
  pid_t first = HostPid(host);
  ASSERT_EQ(kill(first, SIGKILL), 0);  // One crash: restart_count 1.
  ASSERT_TRUE(WaitUntil([&] {
    auto n = FindNode("root.sys.echo");
    return n && n->state() == NODE_STATE_BOUND && n->restart_count() == 1;
  }));
  EXPECT_EQ(FindNode("root.sys.echo")->host(), host) << "a host keeps its id across restarts";
  pid_t second = HostPid(host);
  EXPECT_NE(second, first);

  manager::v1::RestartHostResponse response;
  ASSERT_TRUE(RestartHost(stub(), host, &response).ok());
  EXPECT_EQ(response.host().host_id(), host);
  ASSERT_TRUE(WaitUntil([&] {
    auto n = FindNode("root.sys.echo");
    auto child = FindNode("root.sys.echo.echo0");
    return n && n->state() == NODE_STATE_BOUND && n->restart_count() == 0 &&
           HostPid(host) != second && child && child->state() == NODE_STATE_BOUND;
  })) << "RestartHost resets the budget and restarts in place";
  EXPECT_EQ(FindNode("root.sys.echo")->host(), host);

  manager::v1::RestartHostResponse missing;
  EXPECT_EQ(RestartHost(stub(), "h-none", &missing).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(SupervisionTest, RestartHostClearsQuarantine) {
  StartManager(Board(EchoNode("echo", 0, 0)), {{"echo.json", EchoManifest({{"max_restarts", "0"}})}});
  std::string host = FindNode("root.sys.echo")->host();
  ASSERT_EQ(kill(HostPid(host), SIGKILL), 0);
  ASSERT_TRUE(WaitForNodeState("root.sys.echo", NODE_STATE_QUARANTINED));
  manager::v1::RestartHostResponse response;
  ASSERT_TRUE(RestartHost(stub(), host, &response).ok());
  ASSERT_TRUE(WaitForNodeState("root.sys.echo", NODE_STATE_BOUND));
  EXPECT_EQ(FindNode("root.sys.echo")->host(), host);
  // Nothing left to clear: a second restart of a live host is a plain restart.
  manager::v1::RestartHostResponse again;
  EXPECT_TRUE(RestartHost(stub(), host, &again).ok());
  ASSERT_TRUE(WaitForNodeState("root.sys.echo", NODE_STATE_BOUND));
}

}  // namespace
}  // namespace trellis::testing
