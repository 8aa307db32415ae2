// Tests of trellisctl's output formats on hand-built DriverManager replies.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tools/trellisctl/block_format.h"
#include "tools/trellisctl/bytes_format.h"
#include "tools/trellisctl/dot_format.h"
#include "tools/trellisctl/json_format.h"
#include "tools/trellisctl/size_format.h"
#include "tools/trellisctl/table_format.h"
#include "tools/trellisctl/tree_format.h"

namespace trellis::tools {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using manager::v1::ListNodesResponse;
using node::v1::NodeInfo;

NodeInfo* AddNode(ListNodesResponse& nodes, const std::string& path, const std::string& parent,
                  node::v1::NodeState state, const std::string& driver = "",
                  const std::string& host = "") {
  NodeInfo* node = nodes.add_nodes();
  node->set_path(path);
  node->set_name(path.substr(path.rfind('.') + 1));
  node->set_parent_path(parent);
  node->set_state(state);
  node->set_bound_driver(driver);
  node->set_host(host);
  if (!driver.empty()) node->add_protocols("trellis.device.v1.Device");
  return node;
}

// root > sys > echo > {echo0 > echo0, echo1}, as the manager lists it.
ListNodesResponse EchoTree() {
  ListNodesResponse nodes;
  AddNode(nodes, "root", "", node::v1::NODE_STATE_UNBOUND);
  AddNode(nodes, "root.sys", "root", node::v1::NODE_STATE_UNBOUND);
  NodeInfo* echo = AddNode(nodes, "root.sys.echo", "root.sys", node::v1::NODE_STATE_BOUND, "echo",
                           "host-1");
  auto* compatible = echo->add_properties();
  compatible->set_key("trellis.compatible");
  compatible->set_string_value("trellis,echo");
  auto* depth = echo->add_properties();
  depth->set_key("echo.depth");
  depth->set_int_value(2);
  auto* flag = echo->add_properties();
  flag->set_key("echo.fail_start");
  flag->set_bool_value(false);
  AddNode(nodes, "root.sys.echo.echo0", "root.sys.echo", node::v1::NODE_STATE_BOUND, "echo",
          "host-2");
  AddNode(nodes, "root.sys.echo.echo0.echo0", "root.sys.echo.echo0", node::v1::NODE_STATE_BINDING,
          "echo");
  NodeInfo* echo1 = AddNode(nodes, "root.sys.echo.echo1", "root.sys.echo",
                            node::v1::NODE_STATE_QUARANTINED, "echo", "host-3");
  echo1->set_restart_count(4);
  return nodes;
}

TEST(TreeFormatTest, DrawsEachNodeUnderItsParentWithStateDriverAndProtocols) {
  EXPECT_EQ(FormatNodeTree(EchoTree()),
            "NODE                   STATE        DRIVER (HOST)  PROTOCOLS\n"
            "root                   unbound      -              -\n"
            "└── sys                unbound      -              -\n"
            "    └── echo           bound        echo (host-1)  trellis.device.v1.Device\n"
            "        ├── echo0      bound        echo (host-2)  trellis.device.v1.Device\n"
            "        │   └── echo0  binding      echo           trellis.device.v1.Device\n"
            "        └── echo1      quarantined  echo (host-3)  trellis.device.v1.Device\n");
}

TEST(TreeFormatTest, ListsEveryNodeOnceEvenWithBrokenParentLinks) {
  ListNodesResponse nodes;
  AddNode(nodes, "a", "b", node::v1::NODE_STATE_BOUND, "x");
  AddNode(nodes, "b", "a", node::v1::NODE_STATE_BOUND, "x");
  AddNode(nodes, "c", "c", node::v1::NODE_STATE_UNBOUND);
  std::string tree = FormatNodeTree(nodes);
  EXPECT_EQ(std::count(tree.begin(), tree.end(), '\n'), 4) << tree;
}

TEST(TreeFormatTest, DetailShowsPropertiesAndChildren) {
  ListNodesResponse nodes = EchoTree();
  std::string detail = FormatNodeDetail(nodes.nodes(2), ChildPaths(nodes, "root.sys.echo"));
  EXPECT_THAT(detail, HasSubstr("path:       root.sys.echo\n"));
  EXPECT_THAT(detail, HasSubstr("state:      bound\n"));
  EXPECT_THAT(detail, HasSubstr("driver:     echo\n"));
  EXPECT_THAT(detail, HasSubstr("host:       host-1\n"));
  EXPECT_THAT(detail, HasSubstr("  trellis.compatible = \"trellis,echo\"\n"));
  EXPECT_THAT(detail, HasSubstr("  echo.depth = 2\n"));
  EXPECT_THAT(detail, HasSubstr("  echo.fail_start = false\n"));
  EXPECT_THAT(detail, HasSubstr("children:   root.sys.echo.echo0, root.sys.echo.echo1\n"));
}

TEST(JsonFormatTest, NodeHasPathStateDriverHostProtocolsRestartsAndTypedProperties) {
  Json nodes = NodesToJson(EchoTree());
  ASSERT_TRUE(nodes.is_array());
  ASSERT_EQ(nodes.size(), 6u);
  EXPECT_EQ(nodes[2], Json::parse(R"({
      "path": "root.sys.echo", "name": "echo", "parent": "root.sys", "state": "bound",
      "driver": "echo", "host": "host-1", "protocols": ["trellis.device.v1.Device"],
      "restarts": 0, "backend": null,
      "properties": {"trellis.compatible": "trellis,echo", "echo.depth": 2,
                     "echo.fail_start": false}})"));
  EXPECT_EQ(nodes[5]["state"], "quarantined");
  EXPECT_EQ(nodes[5]["restarts"], 4);
}

TEST(JsonFormatTest, BackendHasStatePidRestartsSocketAndLastExit) {
  ListNodesResponse nodes = EchoTree();
  node::v1::BackendStatus* backend = nodes.mutable_nodes(2)->mutable_backend();
  backend->set_state(node::v1::BACKEND_STATE_RUNNING);
  backend->set_pid(4242);
  backend->set_restart_count(1);
  backend->set_socket("/run/trellis/disk.sock");
  backend->set_last_exit("killed by signal 9 (Killed)");
  EXPECT_EQ(NodesToJson(nodes)[2]["backend"], Json::parse(R"json({
      "state": "running", "pid": 4242, "restarts": 1, "socket": "/run/trellis/disk.sock",
      "last_exit": "killed by signal 9 (Killed)"})json"));
  EXPECT_THAT(FormatNodeDetail(nodes.nodes(2), {}),
              HasSubstr("backend:    running, pid 4242, 1 restart, socket "
                        "/run/trellis/disk.sock, last: killed by signal 9 (Killed)\n"));
  backend->set_state(node::v1::BACKEND_STATE_FAILED);
  backend->set_pid(0);
  EXPECT_TRUE(NodesToJson(nodes)[2]["backend"]["pid"].is_null());
  EXPECT_EQ(NodesToJson(nodes)[2]["backend"]["state"], "failed");
}

TEST(JsonFormatTest, AbsentParentDriverAndHostAreNull) {
  Json root = NodesToJson(EchoTree())[0];
  EXPECT_TRUE(root["parent"].is_null());
  EXPECT_TRUE(root["driver"].is_null());
  EXPECT_TRUE(root["host"].is_null());
  EXPECT_EQ(root["protocols"], Json::array());
  EXPECT_EQ(root["properties"], Json::object());
}

TEST(JsonFormatTest, DumpReplacesInvalidUtf8InsteadOfThrowing) {
  ListNodesResponse nodes;
  AddNode(nodes, "root.bad\xff", "root", node::v1::NODE_STATE_BOUND);
  std::string dumped = DumpJson(NodesToJson(nodes), false);
  EXPECT_THAT(dumped, HasSubstr("root.bad\xef\xbf\xbd"));
}

TEST(JsonFormatTest, HostAndDriverObjects) {
  manager::v1::ListHostsResponse hosts;
  auto* host = hosts.add_hosts();
  host->set_host_id("host-1");
  host->set_state(host::v1::HOST_STATE_RUNNING);
  host->set_pid(42);
  host->add_node_paths("root.sys.echo");
  EXPECT_EQ(HostsToJson(hosts), Json::parse(R"([{"id": "host-1", "state": "running", "pid": 42,
      "restarts": 0, "colocation_group": null, "nodes": ["root.sys.echo"]}])"));
  manager::v1::ListDriversResponse drivers;
  auto* driver = drivers.add_drivers();
  driver->set_name("echo");
  driver->set_binary("/d/libecho_driver.so");
  driver->set_fallback(true);
  EXPECT_EQ(DriversToJson(drivers)[0]["fallback"], true);
  EXPECT_EQ(DriversToJson(drivers)[0]["bound_nodes"], Json::array());
}

TEST(DotFormatTest, HasALabelledVertexPerNodeAndAnEdgePerParentChildPair) {
  std::string dot = FormatDot(EchoTree());
  EXPECT_TRUE(dot.starts_with("digraph trellis {\n")) << dot;
  EXPECT_TRUE(dot.ends_with("}\n")) << dot;
  EXPECT_THAT(dot, HasSubstr("  \"root.sys.echo\" [label=\"echo\\necho\"];\n"));
  EXPECT_THAT(dot, HasSubstr("  \"root.sys\" [label=\"sys\", style=dashed];\n"));
  EXPECT_THAT(dot, HasSubstr("  \"root.sys.echo.echo1\" [label=\"echo1\\necho\", color=red"));
  EXPECT_THAT(dot, HasSubstr("  \"root\" -> \"root.sys\";\n"));
  EXPECT_THAT(dot, HasSubstr("  \"root.sys.echo\" -> \"root.sys.echo.echo0\";\n"));
  EXPECT_THAT(dot, HasSubstr("  \"root.sys.echo.echo0\" -> \"root.sys.echo.echo0.echo0\";\n"));
  EXPECT_EQ(std::count(dot.begin(), dot.end(), '>'), 5) << dot;
}

TEST(DotFormatTest, OmitsEdgesToUnlistedParentsAndEscapesQuotes) {
  ListNodesResponse nodes;
  AddNode(nodes, "root.sys", "root", node::v1::NODE_STATE_BOUND, "say \"hi\"\\");
  std::string dot = FormatDot(nodes);
  EXPECT_THAT(dot, Not(HasSubstr("->")));
  EXPECT_THAT(dot, HasSubstr("label=\"sys\\nsay \\\"hi\\\"\\\\\""));
}

TEST(TableFormatTest, HostsTableShowsStatePidAndNodes) {
  manager::v1::ListHostsResponse hosts;
  auto* host = hosts.add_hosts();
  host->set_host_id("host-1");
  host->set_state(host::v1::HOST_STATE_CRASHED);
  host->set_restart_count(2);
  host->add_node_paths("root.a");
  host->add_node_paths("root.b");
  EXPECT_EQ(FormatHosts(hosts),
            "ID      STATE    PID  RESTARTS  GROUP  NODES\n"
            "host-1  crashed  -    2         -      root.a, root.b\n");
}

TEST(BytesFormatTest, EscapesUnprintableBytesAndHexEncodes) {
  std::string bytes("a\"\\\n\0\xff", 6);
  EXPECT_EQ(EscapeBytes(bytes), "a\\\"\\\\\\n\\x00\\xff");
  EXPECT_EQ(HexBytes(bytes), "61225c0a00ff");
}

TEST(BytesFormatTest, HexDumpShowsAddressesBytesAndPrintableText) {
  std::string bytes = "Hello, block!\n" + std::string(4, '\0') + "\xff";
  EXPECT_EQ(HexDump(bytes, 0xc800),
            "0000c800  48 65 6c 6c 6f 2c 20 62  6c 6f 63 6b 21 0a 00 00  |Hello, block!...|\n"
            "0000c810  00 00 ff                                          |...|\n");
  EXPECT_EQ(HexDump(""), "");
}

TEST(SizeFormatTest, HumanSizesUseBinaryUnitsWithOneDecimal) {
  EXPECT_EQ(HumanSize(0), "0 B");
  EXPECT_EQ(HumanSize(1023), "1023 B");
  EXPECT_EQ(HumanSize(1024), "1.0 KiB");
  EXPECT_EQ(HumanSize(1536), "1.5 KiB");
  EXPECT_EQ(HumanSize(64ull << 20), "64.0 MiB");
  EXPECT_EQ(HumanSize((1ull << 20) - 1), "1.0 MiB");  // Not "1024.0 KiB".
  EXPECT_EQ(HumanSize(3ull << 40), "3.0 TiB");
  EXPECT_EQ(HumanSize(UINT64_MAX), "16.0 EiB");
}

block::v1::BlockInfo DiskInfo() {
  block::v1::BlockInfo info;
  info.set_block_size(512);
  info.set_block_count(131072);
  info.set_optimal_transfer_size(0);
  info.set_max_transfer_size(131072);
  return info;
}

TEST(BlockFormatTest, InfoShowsGeometrySizeAndLimits) {
  EXPECT_EQ(FormatBlockInfo("root.sys.disk0", DiskInfo()),
            "node:              root.sys.disk0\n"
            "block size:        512 bytes\n"
            "block count:       131072\n"
            "size:              64.0 MiB (67108864 bytes)\n"
            "read-only:         no\n"
            "optimal transfer:  no preference\n"
            "max transfer:      128.0 KiB (131072 bytes)\n");
}

TEST(BlockFormatTest, InfoJsonHasTheNumbersAndNullForAnOverflowingSize) {
  EXPECT_EQ(BlockInfoToJson("d", DiskInfo()), Json::parse(R"({"node": "d", "block_size": 512,
      "block_count": 131072, "size_bytes": 67108864, "read_only": false,
      "optimal_transfer_size": 0, "max_transfer_size": 131072})"));
  block::v1::BlockInfo huge = DiskInfo();
  huge.set_block_count(UINT64_MAX / 2);
  EXPECT_TRUE(BlockInfoToJson("d", huge)["size_bytes"].is_null());
  EXPECT_THAT(FormatBlockInfo("d", huge), HasSubstr("size:              more than 16.0 EiB\n"));
}

BenchReport SampleReport() {
  return {.node = "root.sys.disk",
          .pattern = "rand",
          .op = "read",
          .size = 4096,
          .depth = 8,
          .ops = 2000,
          .errors = 0,
          .seconds = 0.5,
          .latency = {
              .p50 = 95'100, .p90 = 150'000, .p99 = 210'400, .p999 = 480'000, .max = 1'203'000}};
}

TEST(BlockFormatTest, BenchReportShowsRatesAndPercentilesInMicroseconds) {
  EXPECT_EQ(FormatBenchReport(SampleReport()),
            "root.sys.disk: rand read, 4096-byte requests, depth 8\n"
            "ops:      2000 in 0.50 s, 0 errors\n"
            "IOPS:     4000\n"
            "MB/s:     16.4\n"
            "latency:  p50 95.1 us, p90 150.0 us, p99 210.4 us, p99.9 480.0 us, max 1203.0 us\n");
}

TEST(BlockFormatTest, BenchJsonHasRatesAndLatencies) {
  Json json = BenchReportToJson(SampleReport());
  EXPECT_EQ(json["ops"], 2000);
  EXPECT_EQ(json["errors"], 0);
  EXPECT_DOUBLE_EQ(json["iops"].get<double>(), 4000);
  EXPECT_DOUBLE_EQ(json["mb_per_s"].get<double>(), 16.384);
  EXPECT_EQ(json["latency_us"], Json::parse(R"({"p50": 95.1, "p90": 150.0, "p99": 210.4,
      "p99.9": 480.0, "max": 1203.0})"));
}

TEST(BlockFormatTest, BenchOfNoTimeHasNoRate) {
  BenchReport report = SampleReport();
  report.seconds = 0;
  EXPECT_EQ(Iops(report), 0);
  EXPECT_EQ(MegabytesPerSecond(report), 0);
}

}  // namespace
}  // namespace trellis::tools
