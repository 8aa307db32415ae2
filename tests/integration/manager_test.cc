// The manager with real trellis-host processes: booting a tree, skipping bad
// manifests, and the error matrix for misuse.
#include <signal.h>

#include <set>

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

}  // namespace
}  // namespace trellis::testing
