// The manager with real trellis-host processes: booting a tree, skipping bad
// manifests, and the error matrix for misuse.
#include <gmock/gmock.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <set>

#include <grpcpp/generic/generic_stub.h>

#include "tests/integration/testing/manager_fixture.h"

namespace trellis::testing {
namespace {

using node::v1::NODE_STATE_BOUND;

class ManagerTest : public ManagerFixture {};

TEST_F(ManagerTest, BootsThreeLevelTreeInRealHostProcesses) {
  StartManager(Board(EchoNode("echo", 2, 2)), {{"echo.json", EchoManifest()}});
  std::set<std::string> expected = {
      "root.sys.echo",      "root.sys.echo.echo0",       "root.sys.echo.echo1",
      "root.sys.echo.echo0.echo0", "root.sys.echo.echo0.echo1", "root.sys.echo.echo1.echo0",
      "root.sys.echo.echo1.echo1"};
  std::set<std::string> bound;
  std::set<pid_t> pids;
  for (const auto& node : Nodes()) {
    if (node.bound_driver().empty()) continue;
    EXPECT_EQ(node.state(), NODE_STATE_BOUND) << node.path();
    EXPECT_EQ(node.bound_driver(), "echo");
    bound.insert(node.path());
    pid_t pid = HostPid(node.host());
    ASSERT_GT(pid, 0) << node.path();
    EXPECT_EQ(kill(pid, 0), 0) << "host of " << node.path() << " is not a live process";
    pids.insert(pid);
  }
  EXPECT_EQ(bound, expected);
  EXPECT_EQ(pids.size(), expected.size()) << "each echo driver runs in its own host process";
}

TEST_F(ManagerTest, HostsCanRunAsThreadsWithTheSameCodePath) {
  StartManager(Board(EchoNode("echo", 1, 2)), {{"echo.json", EchoManifest()}},
               [](manager::ManagerOptions& options) { options.host_binary.clear(); });
  std::vector<std::string> bound;
  for (const auto& node : Nodes()) {
    if (node.state() != NODE_STATE_BOUND) continue;
    bound.push_back(node.path());
    EXPECT_EQ(HostPid(node.host()), 0) << "a thread host has no pid of its own";
  }
  EXPECT_EQ(bound.size(), 3u);
  Bound device = BindDevice("root.sys.echo.echo1");
  device::v1::CommandRequest request;
  request.set_minor_num(1);
  request.set_arg1(40);
  request.set_arg2(2);
  device::v1::CommandResponse response;
  ASSERT_TRUE(device.device->Command(WithToken(device.token).get(), request, &response).ok());
  EXPECT_EQ(response.value(), 42);
}

TEST_F(ManagerTest, BadManifestIsReportedAndSkippedAndTheRestBoots) {
  StartManager(Board(EchoNode("echo", 1, 1)),
               {{"echo.json", EchoManifest()},
                {"broken.json", R"({"name": "broken", "binary": "libecho_driver.so", "bogus": 1})"}});
  ASSERT_EQ(manager_->load_errors().size(), 1u);
  const std::string& message = manager_->load_errors()[0].message();
  EXPECT_NE(message.find("broken.json"), std::string::npos) << message;
  EXPECT_NE(message.find("bogus"), std::string::npos) << message;
  EXPECT_TRUE(WaitForNodeState("root.sys.echo.echo0", NODE_STATE_BOUND));
}

TEST_F(ManagerTest, BindErrorsHaveTheirOwnCodesAndChangeNothing) {
  StartManager(Board(EchoNode("echo", 0, 0)), {{"echo.json", EchoManifest()}});
  auto bind = [&](const std::string& path, const std::string& protocol) {
    grpc::ClientContext context;
    manager::v1::BindRequest request;
    request.set_node_path(path);
    request.set_protocol(protocol);
    manager::v1::BindResponse response;
    return stub().Bind(&context, request, &response).error_code();
  };
  EXPECT_EQ(bind("root.sys.nope", "trellis.device.v1.Device"), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(bind("root.sys.echo", "trellis.block.v1.Block"), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(bind("root.sys", "trellis.device.v1.Device"), grpc::StatusCode::FAILED_PRECONDITION);

  // Binding a driver to an already bound node.
  grpc::ClientContext context;
  manager::v1::BindDriverRequest request;
  request.set_node_path("root.sys.echo");
  request.set_driver_name("echo");
  manager::v1::BindDriverResponse response;
  grpc::Status status = stub().BindDriver(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << status.error_message();
  EXPECT_NE(status.error_message().find("already bound"), std::string::npos);
  auto node = FindNode("root.sys.echo");
  ASSERT_TRUE(node);
  EXPECT_EQ(node->state(), NODE_STATE_BOUND);
  EXPECT_EQ(node->restart_count(), 0u);
}

// Lists the services of the server behind `channel` through gRPC server
// reflection, as grpcurl would: the raw bytes of the reply (service names
// appear in it as strings).
std::string ReflectServices(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::CompletionQueue cq;
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto call = stub.PrepareCall(
      &context, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  auto step = [&](auto&& start) {
    void* tag = nullptr;
    bool ok = false;
    start(reinterpret_cast<void*>(1));
    return cq.Next(&tag, &ok) && ok;
  };
  // ServerReflectionRequest{list_services: ""}: field 7, length 0.
  const char request[] = {0x3a, 0x00};
  grpc::Slice slice(request, sizeof(request));
  grpc::ByteBuffer out(&slice, 1);
  grpc::ByteBuffer in;
  std::string reply;
  if (step([&](void* tag) { call->StartCall(tag); }) &&
      step([&](void* tag) { call->Write(out, tag); }) &&
      step([&](void* tag) { call->WritesDone(tag); }) &&
      step([&](void* tag) { call->Read(&in, tag); })) {
    std::vector<grpc::Slice> slices;
    (void)in.Dump(&slices);
    for (const auto& s : slices) reply.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  grpc::Status status;
  step([&](void* tag) { call->Finish(&status, tag); });
  cq.Shutdown();
  return reply;
}

TEST_F(ManagerTest, TheManagerAndHostsServeReflection) {
  StartManager(Board(EchoNode("echo", 0, 0)), {{"echo.json", EchoManifest()}});
  auto manager = grpc::CreateChannel(manager_->endpoint(), grpc::InsecureChannelCredentials());
  std::string services = ReflectServices(manager);
  EXPECT_THAT(services, ::testing::HasSubstr("trellis.manager.v1.DriverManager"));
  EXPECT_THAT(services, ::testing::HasSubstr("trellis.power.v1.Power"));
  Bound bound = BindDevice("root.sys.echo");
  auto host = grpc::CreateChannel(bound.endpoint, grpc::InsecureChannelCredentials());
  EXPECT_THAT(ReflectServices(host), ::testing::HasSubstr("trellis.device.v1.Device"));
}

// The hosts' stderr reaches the manager's log: what drivers log through
// DriverContext::Log comes back structured from ReadLogs, filtered by node
// subtree, and a follower gets new entries as they come.
TEST_F(ManagerTest, DriverLogsAreReadBackByNodeAndFollowed) {
  StartManager(Board(EchoNode("echo", 1, 2)), {{"echo.json", EchoManifest()}});
  ASSERT_TRUE(WaitForNodeState("root.sys.echo.echo1", node::v1::NODE_STATE_BOUND));
  auto read = [&](const std::string& prefix, uint32_t last) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    manager::v1::ReadLogsRequest request;
    request.set_node_prefix(prefix);
    request.set_driver("echo");
    request.set_last(last);
    auto reader = stub().ReadLogs(&context, request);
    std::vector<manager::v1::LogEntry> entries;
    manager::v1::LogEntry entry;
    while (reader->Read(&entry)) entries.push_back(entry);
    EXPECT_TRUE(reader->Finish().ok());
    return entries;
  };
  // Three echo drivers started: the root and its two children.
  ASSERT_TRUE(WaitUntil([&] { return read("root.sys.echo", 0).size() == 3; }));
  auto child = read("root.sys.echo.echo1", 0);
  ASSERT_EQ(child.size(), 1u);
  EXPECT_EQ(child[0].driver(), "echo");
  EXPECT_EQ(child[0].level(), "info");
  EXPECT_EQ(child[0].text(), "started: depth 0, 2 children per level");
  EXPECT_FALSE(child[0].host_id().empty());
  EXPECT_EQ(read("", 1).size(), 1u);

  // Follow, then restart the child's host: its new start arrives.
  grpc::ClientContext context;
  manager::v1::ReadLogsRequest follow;
  follow.set_node_prefix("root.sys.echo.echo1");
  follow.set_last(0);
  follow.set_follow(true);
  auto reader = stub().ReadLogs(&context, follow);
  manager::v1::LogEntry entry;
  ASSERT_TRUE(reader->Read(&entry));  // The past one.
  const uint64_t seen = entry.seq();
  manager::v1::RestartHostRequest restart;
  restart.set_host_id(child[0].host_id());
  ASSERT_TRUE(Call(&manager::v1::DriverManager::Stub::RestartHost, restart).ok());
  ASSERT_TRUE(reader->Read(&entry));
  EXPECT_GT(entry.seq(), seen);
  EXPECT_EQ(entry.text(), "started: depth 0, 2 children per level");
  context.TryCancel();
  (void)reader->Finish();
}

// DriverManager.Inspect: starts and crashes from the manager, client calls
// counted by the host (every authorized call), as a driver is used, then
// its host killed and restarted.
TEST_F(ManagerTest, InspectCountsStartsCrashesAndClientCalls) {
  StartManager(Board(EchoNode("echo", 0, 0)), {{"echo.json", EchoManifest()}});
  ASSERT_TRUE(WaitForNodeState("root.sys.echo", NODE_STATE_BOUND));
  auto inspect = [&]() -> manager::v1::DriverCounters {
    manager::v1::InspectRequest request;
    request.set_node_prefix("root.sys.echo");
    manager::v1::InspectResponse response;
    EXPECT_TRUE(Call(&manager::v1::DriverManager::Stub::Inspect, request, &response).ok());
    EXPECT_EQ(response.drivers_size(), 1);
    return response.drivers_size() == 1 ? response.drivers(0) : manager::v1::DriverCounters{};
  };
  Bound bound = BindDevice("root.sys.echo");
  const auto before = inspect();
  EXPECT_EQ(before.driver(), "echo");
  EXPECT_EQ(before.starts(), 1u);
  EXPECT_EQ(before.crashes(), 0u);
  device::v1::CommandRequest command;
  command.set_minor_num(1);
  device::v1::CommandResponse answer;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(bound.device->Command(WithToken(bound.token).get(), command, &answer).ok());
  }
  EXPECT_EQ(inspect().client_calls(), before.client_calls() + 5);

  auto node = FindNode("root.sys.echo");
  ASSERT_TRUE(node);
  ASSERT_EQ(kill(HostPid(node->host()), SIGKILL), 0);
  ASSERT_TRUE(WaitUntil([&] {
    auto counters = inspect();
    return counters.starts() == 2 && counters.state() == NODE_STATE_BOUND;
  }));
  const auto after = inspect();
  EXPECT_EQ(after.crashes(), 1u);
  EXPECT_EQ(after.client_calls(), 0u);  // A new host process counts afresh.
}

TEST_F(ManagerTest, ForgedAndRevokedTokensAreRefused) {
  StartManager(Board(EchoNode("echo", 0, 0)), {{"echo.json", EchoManifest()}});
  Bound bound = BindDevice("root.sys.echo");
  device::v1::CommandRequest request;
  device::v1::CommandResponse response;
  request.set_minor_num(0);
  EXPECT_TRUE(bound.device->Command(WithToken(bound.token).get(), request, &response).ok());

  grpc::Status forged = bound.device->Command(WithToken("0123456789abcdef0123456789abcdef").get(),
                                              request, &response);
  EXPECT_EQ(forged.error_code(), grpc::StatusCode::UNAUTHENTICATED) << forged.error_message();
  grpc::Status missing = bound.device->Command(WithToken("").get(), request, &response);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::UNAUTHENTICATED);

  grpc::ClientContext context;
  manager::v1::UnbindRequest unbind;
  unbind.set_token(bound.token);
  manager::v1::UnbindResponse unbound;
  ASSERT_TRUE(stub().Unbind(&context, unbind, &unbound).ok());
  // Revocation reaches the host asynchronously; it is prompt, not instant.
  EXPECT_TRUE(WaitUntil([&] {
    return bound.device->Command(WithToken(bound.token).get(), request, &response).error_code() ==
           grpc::StatusCode::UNAUTHENTICATED;
  }));
  grpc::ClientContext again;
  EXPECT_EQ(stub().Unbind(&again, unbind, &unbound).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(ManagerTest, NodeApiMisuseFromADriverGetsPreciseCodesAndNoStateChange) {
  std::string board = Board(R"({"name": "m", "properties": [{"key": "trellis.compatible",
                                "string_value": "trellis,misuse"}]})");
  StartManager(board, {{"misuse.json", R"({"name": "misuse", "binary": "libmisuse_driver.so",
      "bind": {"accept": [{"key": "trellis.compatible", "values": [{"string_value": "trellis,misuse"}]}]},
      "exposes": ["trellis.device.v1.Device"]})"}});
  ASSERT_TRUE(WaitForNodeState("root.sys.m", NODE_STATE_BOUND));
  Bound bound = BindDevice("root.sys.m");
  auto attempt = [&](uint32_t i) {
    device::v1::CommandRequest request;
    request.set_minor_num(10 + i);
    device::v1::CommandResponse response;
    grpc::Status status = bound.device->Command(WithToken(bound.token).get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return static_cast<grpc::StatusCode>(response.value());
  };
  EXPECT_EQ(attempt(0), grpc::StatusCode::INVALID_ARGUMENT) << "empty child name";
  EXPECT_EQ(attempt(1), grpc::StatusCode::OK) << "first 'twin'";
  EXPECT_EQ(attempt(2), grpc::StatusCode::ALREADY_EXISTS) << "duplicate sibling name";
  EXPECT_EQ(attempt(3), grpc::StatusCode::INVALID_ARGUMENT) << "duplicate property keys";
  EXPECT_EQ(attempt(4), grpc::StatusCode::INVALID_ARGUMENT) << "'.' in a name";
  EXPECT_EQ(attempt(5), grpc::StatusCode::NOT_FOUND) << "removing a node it never added";
  // Only the one valid child exists.
  std::vector<std::string> children;
  for (const auto& node : Nodes()) {
    if (node.parent_path() == "root.sys.m") children.push_back(node.path());
  }
  EXPECT_EQ(children, std::vector<std::string>{"root.sys.m.twin"});
}

// Runs trellisctl as uid/gid 65534 (nobody); returns the exit code and output.
std::pair<int, std::string> RunAsNobody(const std::string& endpoint, const std::string& args) {
  std::string command = "setpriv --reuid=65534 --regid=65534 --clear-groups " +
                        std::string(TRELLIS_CTL_BINARY) + " --endpoint " + endpoint + " " + args +
                        " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  std::string output;
  char buffer[512];
  while (pipe != nullptr && fgets(buffer, sizeof(buffer), pipe) != nullptr) output += buffer;
  int status = pipe != nullptr ? pclose(pipe) : -1;
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

TEST_F(ManagerTest, BindChecksTheCallersIdentityAgainstTheManifestsAccess) {
  std::string open_node = R"({"name": "open", "properties": [{"key": "trellis.compatible",
                              "string_value": "trellis,echo-open"}]})";
  StartManager(Board(EchoNode("closed", 0, 0) + "," + open_node),
               {{"echo.json", EchoManifest({{"access", R"({"uids": [0]})"}})},
                {"echo-open.json",
                 EchoManifest({{"name", R"("echo-open")"},
                               {"bind", R"({"accept": [{"key": "trellis.compatible",
                                  "values": [{"string_value": "trellis,echo-open"}]}]})"},
                               {"access", R"({"gids": [65534]})"}})}});
  ASSERT_TRUE(WaitForNodeState("root.sys.open", NODE_STATE_BOUND));
  // Let uid 65534 reach the sockets; what it may do is still up to Bind.
  chmod(dir_.path().c_str(), 0755);
  chmod((dir_.path() / "run").c_str(), 0755);

  auto [denied, denied_output] = RunAsNobody(manager_->endpoint(), "device command root.sys.closed 0");
  EXPECT_EQ(denied, 1) << denied_output;
  EXPECT_NE(denied_output.find("PERMISSION_DENIED"), std::string::npos) << denied_output;
  EXPECT_NE(denied_output.find("uid 65534"), std::string::npos) << denied_output;

  auto [allowed, allowed_output] = RunAsNobody(manager_->endpoint(), "device command root.sys.open 1 2 3");
  EXPECT_EQ(allowed, 0) << allowed_output;
  EXPECT_NE(allowed_output.find("5"), std::string::npos) << allowed_output;
}

constexpr char kMisuseManifest[] = R"({"name": "misuse", "binary": "libmisuse_driver.so",
    "bind": {"accept": [{"key": "trellis.compatible", "values": [{"string_value": "trellis,misuse"}]}]},
    "exposes": ["trellis.device.v1.Device"]})";

std::string MisuseNode(const std::string& mode) {
  return R"({"name": "m", "properties": [{"key": "trellis.compatible", "string_value": "trellis,misuse"},
             {"key": "misuse.mode", "string_value": ")" + mode + R"("},
             {"key": "misuse.level", "int_value": 0}]})";
}

TEST_F(ManagerTest, BindCycleIsRefusedAndNamesBothNodes) {
  StartManager(Board(MisuseNode("recurse")), {{"misuse.json", kMisuseManifest}});
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  // The cycle was refused during boot; the refusal left the child unbound.
  ASSERT_TRUE(WaitForNodeState("root.sys.m", NODE_STATE_BOUND));
  auto again = FindNode("root.sys.m.again");
  ASSERT_TRUE(again) << "the driver's child exists";
  EXPECT_EQ(again->state(), node::v1::NODE_STATE_UNBOUND);
  EXPECT_FALSE(FindNode("root.sys.m.again.again")) << "the cycle went on";
  EXPECT_NE(again->last_error().find("bind cycle"), std::string::npos) << again->last_error();
  EXPECT_NE(again->last_error().find("root.sys.m "), std::string::npos) << "names the ancestor";
  // The reason is on record: bind the child explicitly and read it.
  manager::v1::BindDriverRequest request;
  request.set_node_path("root.sys.m.again");
  request.set_driver_name("misuse");
  manager::v1::BindDriverResponse response;
  grpc::Status status = stub().BindDriver(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << status.error_message();
  EXPECT_NE(status.error_message().find("bind cycle"), std::string::npos) << status.error_message();
  EXPECT_NE(status.error_message().find("root.sys.m.again"), std::string::npos);
}

TEST_F(ManagerTest, RunawayDepthIsRefusedWithTheChainNamed) {
  StartManager(Board(MisuseNode("grow")), {{"misuse.json", kMisuseManifest}});
  std::string deepest;
  for (const auto& node : Nodes()) {
    if (node.path().size() > deepest.size()) deepest = node.path();
  }
  size_t depth = std::count(deepest.begin(), deepest.end(), '.');
  EXPECT_EQ(depth, manager::Topology::kMaxDepth) << deepest;
  // The deepest driver could not add its child, so its start failed.
  auto node = FindNode(deepest);
  ASSERT_TRUE(node);
  EXPECT_EQ(node->state(), node::v1::NODE_STATE_UNBOUND);
  EXPECT_NE(node->last_error().find("runaway depth"), std::string::npos) << node->last_error();
  EXPECT_NE(node->last_error().find(deepest), std::string::npos) << "names the chain";
  // Its parents are all still bound.
  auto parent = FindNode(node->parent_path());
  ASSERT_TRUE(parent);
  EXPECT_EQ(parent->state(), NODE_STATE_BOUND);
}

}  // namespace
}  // namespace trellis::testing
