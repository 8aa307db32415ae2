// trellisctl against a real trellis-manager: boots the manager with a board
// holding a 3-level echo tree, then checks what trellisctl prints.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "tools/trellisctl/testing/subprocess.h"
#include "tools/trellisctl/testing/trellisctl_fixture.h"

namespace trellis::tools {
namespace {

namespace fs = std::filesystem;
using testing::CommandResult;
using ::testing::HasSubstr;
using testing::RunCommand;
using Json = nlohmann::json;

const std::set<std::string> kEchoPaths = {
    "root.sys.echo",
    "root.sys.echo.echo0",
    "root.sys.echo.echo0.echo0",
    "root.sys.echo.echo0.echo1",
    "root.sys.echo.echo1",
    "root.sys.echo.echo1.echo0",
    "root.sys.echo.echo1.echo1",
};

// A board with sys > echo, where the echo driver adds two levels of two
// children below echo.
Json EchoBoard() {
  return {
      {"name", "trellisctl-test"},
      {"nodes",
       {{{"name", "sys"},
         {"children",
          {{{"name", "echo"},
            {"properties",
             {{{"key", "trellis.compatible"}, {"string_value", "trellis,echo"}},
              {{"key", "echo.depth"}, {"int_value", 2}},
              {{"key", "echo.children"}, {"int_value", 2}}}}}}}}}},
      {"suspend_hal", {{"kind", "SIMULATED"}}},
      {"driver_dirs", {TRELLIS_TEST_DRIVER_DIR}},
  };
}

// Nodes of `nodes --json` by path.
std::map<std::string, Json> ByPath(const Json& nodes) {
  std::map<std::string, Json> by_path;
  for (const Json& node : nodes) by_path[node.at("path").get<std::string>()] = node;
  return by_path;
}

bool EchoTreeIsBound(const Json& nodes) {
  std::set<std::string> bound;
  for (const Json& node : nodes) {
    if (node.value("state", "") == "bound" && kEchoPaths.contains(node.value("path", ""))) {
      bound.insert(node.value("path", ""));
    }
  }
  return bound == kEchoPaths;
}

class TrellisctlIntegrationTest : public testing::TrellisctlFixture {
 protected:
  void SetUp() override {
    TrellisctlFixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    if (!fs::exists(fs::path(TRELLIS_TEST_DRIVER_DIR) / "libecho_driver.so")) {
      GTEST_SKIP() << "echo_driver is not built in " << TRELLIS_TEST_DRIVER_DIR;
    }
    ASSERT_NO_FATAL_FAILURE(StartManager(EchoBoard()));
    ASSERT_NO_FATAL_FAILURE(WaitForNodes(EchoTreeIsBound, "binding the echo tree"));
  }
};

TEST_F(TrellisctlIntegrationTest, NodesJsonShowsTheBoundEchoTree) {
  CommandResult result = Trellisctl({"nodes", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::map<std::string, Json> nodes = ByPath(Json::parse(result.out));

  ASSERT_TRUE(nodes.contains("root"));
  EXPECT_TRUE(nodes["root"]["parent"].is_null());
  ASSERT_TRUE(nodes.contains("root.sys"));
  EXPECT_EQ(nodes["root.sys"]["parent"], "root");
  for (const std::string& path : kEchoPaths) {
    SCOPED_TRACE(path);
    ASSERT_TRUE(nodes.contains(path));
    const Json& node = nodes[path];
    EXPECT_EQ(node["name"], path.substr(path.rfind('.') + 1));
    EXPECT_EQ(node["parent"], path.substr(0, path.rfind('.')));
    EXPECT_EQ(node["state"], "bound");
    EXPECT_EQ(node["driver"], "echo");
    EXPECT_TRUE(node["host"].is_string());
    EXPECT_EQ(node["protocols"], Json::array({"trellis.device.v1.Device"}));
    EXPECT_EQ(node["restarts"], 0);
  }
  EXPECT_EQ(nodes.size(), 2 + kEchoPaths.size());
  EXPECT_EQ(nodes["root.sys.echo"]["properties"],
            Json::parse(R"({"trellis.compatible": "trellis,echo", "echo.depth": 2,
                            "echo.children": 2})"));
}

TEST_F(TrellisctlIntegrationTest, NodesPrintsAnIndentedTree) {
  CommandResult result = Trellisctl({"nodes", "root.sys.echo"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("\necho "));
  EXPECT_THAT(result.out, HasSubstr("├── echo0"));
  EXPECT_THAT(result.out, HasSubstr("│   └── echo1"));
  EXPECT_THAT(result.out, HasSubstr("trellis.device.v1.Device"));
}

TEST_F(TrellisctlIntegrationTest, DeviceCommandPrintsTheEchoSum) {
  CommandResult result = Trellisctl({"device", "command", "root.sys.echo", "1", "2", "3"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "5\n");
  CommandResult json =
      Trellisctl({"--json", "device", "command", "root.sys.echo.echo1.echo0", "1", "40", "2"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_EQ(Json::parse(json.out), Json::parse(R"({"value": 42})"));
}

TEST_F(TrellisctlIntegrationTest, DeviceProbeListsEveryEchoAsPresent) {
  CommandResult result = Trellisctl({"device", "probe"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("NODE"));
  EXPECT_THAT(result.out, HasSubstr("root.sys.echo.echo1.echo0  echo    present (0)"));
  CommandResult json = Trellisctl({"--json", "device", "probe"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  std::set<std::string> present;
  const Json probed = Json::parse(json.out);
  for (const Json& row : probed["drivers"]) {
    EXPECT_EQ(row["driver"], "echo");
    EXPECT_EQ(row["value"], 0);
    if (row["present"] == true) present.insert(row["node"].get<std::string>());
  }
  EXPECT_EQ(present, kEchoPaths) << "every echo node answers minor 0; nothing else serves Device";
}

TEST_F(TrellisctlIntegrationTest, ShowUnknownNodeExitsOneWithNotFound) {
  CommandResult result = Trellisctl({"show", "root.sys.nope"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.out, "");
  EXPECT_THAT(result.err, HasSubstr("trellisctl: show root.sys.nope: NOT_FOUND: "));
  EXPECT_THAT(result.err, HasSubstr("no node root.sys.nope"));
}

TEST_F(TrellisctlIntegrationTest, ShowPrintsOneNode) {
  CommandResult result = Trellisctl({"show", "root.sys.echo.echo0"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("state:      bound\n"));
  EXPECT_THAT(result.out, HasSubstr("  echo.depth = 1\n"));
  EXPECT_THAT(result.out,
              HasSubstr("children:   root.sys.echo.echo0.echo0, root.sys.echo.echo0.echo1\n"));
}

TEST_F(TrellisctlIntegrationTest, GraphDotHasParentToChildEdges) {
  CommandResult result = Trellisctl({"graph", "--dot"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("digraph trellis {"));
  EXPECT_THAT(result.out, HasSubstr("  \"root.sys.echo\" -> \"root.sys.echo.echo0\";\n"));
  EXPECT_THAT(result.out,
              HasSubstr("  \"root.sys.echo.echo1\" -> \"root.sys.echo.echo1.echo1\";\n"));
}

TEST_F(TrellisctlIntegrationTest, SubscribeReceivesTheUpcallItsCommandCaused) {
  CommandResult result =
      Trellisctl({"--json", "device", "subscribe", "root.sys.echo", "2", "--count", "1",
                  "--timeout", "10s", "--then", "2", "200", "7"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  Json upcall = Json::parse(result.out);
  EXPECT_EQ(upcall["minor"], 2);
  EXPECT_EQ(upcall["arg0"], 7);
  EXPECT_EQ(upcall["arg1"], 1);
}

TEST_F(TrellisctlIntegrationTest, AllowLendsTheBufferForTheFollowUpCommand) {
  CommandResult result = Trellisctl(
      {"device", "allow", "root.sys.echo", "3", "--read-only", "--data", "hello", "--then", "3"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "previous buffer: 0 bytes\ncommand 3: 5\n");
}

TEST_F(TrellisctlIntegrationTest, HostsAndDriversListTheEchoDriver) {
  CommandResult hosts = Trellisctl({"hosts", "--json"});
  ASSERT_EQ(hosts.exit_code, 0) << hosts.err;
  std::set<std::string> hosted;
  for (const Json& host : Json::parse(hosts.out)) {
    EXPECT_EQ(host["state"], "running");
    for (const Json& path : host["nodes"]) hosted.insert(path.get<std::string>());
  }
  EXPECT_EQ(hosted, kEchoPaths);
  CommandResult drivers = Trellisctl({"drivers"});
  ASSERT_EQ(drivers.exit_code, 0) << drivers.err;
  EXPECT_THAT(drivers.out, HasSubstr("libecho_driver.so"));
}

TEST_F(TrellisctlIntegrationTest, RestartWaitsUntilTheHostsNodesAreBoundAgain) {
  const std::string leaf = "root.sys.echo.echo1.echo1";
  CommandResult shown = Trellisctl({"--json", "show", leaf});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  std::string host = Json::parse(shown.out).at("host").get<std::string>();

  CommandResult result = Trellisctl({"restart", host});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("restarted " + host + "\n  " + leaf + ": bound on "));
  CommandResult after = Trellisctl({"--json", "show", leaf});
  ASSERT_EQ(after.exit_code, 0) << after.err;
  EXPECT_EQ(Json::parse(after.out)["state"], "bound");
}

TEST(TrellisctlWithoutManagerTest, UnreachableManagerExitsOneWithUnavailable) {
  if (!fs::exists(TRELLISCTL_BINARY)) GTEST_SKIP() << TRELLISCTL_BINARY << " is not built";
  auto result =
      RunCommand({TRELLISCTL_BINARY, "--endpoint", "unix:/nonexistent/manager.sock", "nodes"});
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->exit_code, 1);
  EXPECT_THAT(result->err, HasSubstr("trellisctl: nodes root: UNAVAILABLE: cannot reach "
                                     "trellis-manager at unix:/nonexistent/manager.sock"));
}

TEST(TrellisctlWithoutManagerTest, UsageErrorsExitTwo) {
  if (!fs::exists(TRELLISCTL_BINARY)) GTEST_SKIP() << TRELLISCTL_BINARY << " is not built";
  for (std::vector<std::string> args :
       {std::vector<std::string>{"bogus"}, std::vector<std::string>{"show"},
        std::vector<std::string>{"device"},
        std::vector<std::string>{"device", "subscribe", "n", "2", "--timeout", "soon"}}) {
    args.insert(args.begin(), TRELLISCTL_BINARY);
    auto result = RunCommand(args);
    ASSERT_TRUE(result.has_value());
    EXPECT_EQ(result->exit_code, 2) << args[1] << ": " << result->err;
  }
  auto help = RunCommand({TRELLISCTL_BINARY, "device", "subscribe", "--help"});
  ASSERT_TRUE(help.has_value());
  EXPECT_EQ(help->exit_code, 0);
  EXPECT_THAT(help->out, HasSubstr("--count"));
}

}  // namespace
}  // namespace trellis::tools
