// Board nodes' backend processes: the checks ParseBoard makes at load, and
// the ones ResolveBoardBackends makes once the state directory is known.
#include "manager/manifest/board_backends.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "manager/manifest/board.h"

namespace trellis::manager {
namespace {

namespace fs = std::filesystem;

const fs::path kBackendsBoardSource = "/boards/qemu-virt.json";
const fs::path kStateDir = "/run/trellis";

// A board whose node "sys" holds a node "disk" with `backend` (a JSON
// object) and `properties` (a JSON array).
std::string DiskBoard(const std::string& backend, const std::string& properties = "[]",
                      const std::string& more_nodes = "") {
  return R"({"name": "qemu-virt", "driver_dirs": ["d"], "nodes": [{"name": "sys", "children": [)"
         R"({"name": "disk", "properties": )" +
         properties + R"(, "backend": )" + backend + "}" + more_nodes + "]}]}";
}

// The message of a failed parse or resolve of `json`, without the
// "<source>: " prefix; "<valid>" if both succeed.
std::string BackendError(const std::string& json) {
  auto board = ParseBoard(json, kBackendsBoardSource);
  Result<std::vector<BoardBackend>> backends =
      board ? ResolveBoardBackends(*board, kStateDir) : Fail(board.error());
  if (backends) return "<valid>";
  EXPECT_EQ(backends.error().code(), ErrorCode::kInvalidArgument);
  std::string prefix = kBackendsBoardSource.string() + ": ";
  const std::string& message = backends.error().message();
  if (!message.starts_with(prefix)) return "<no file prefix> " + message;
  return message.substr(prefix.size());
}

constexpr char kField[] = "field 'nodes[0].children[0].backend";

TEST(BoardBackendsTest, ResolvesSocketUnderStateDirAndSubstitutesArgv) {
  auto board = ParseBoard(DiskBoard(R"({"argv": ["qsd", "--export", "path={socket}",
                                       "--pidfile", "{state_dir}/qsd.pid"],
                                       "socket": "disks/disk.sock"})"),
                          kBackendsBoardSource);
  ASSERT_TRUE(board) << board.error().ToString();
  auto backends = ResolveBoardBackends(*board, kStateDir);
  ASSERT_TRUE(backends) << backends.error().ToString();
  ASSERT_EQ(backends->size(), 1u);
  const BoardBackend& backend = (*backends)[0];
  EXPECT_EQ(backend.node_path, "root.sys.disk");
  EXPECT_EQ(backend.socket, "/run/trellis/disks/disk.sock");
  EXPECT_EQ(backend.argv,
            (std::vector<std::string>{"qsd", "--export", "path=/run/trellis/disks/disk.sock",
                                      "--pidfile", "/run/trellis/qsd.pid"}));
  EXPECT_EQ(backend.ready_timeout, std::chrono::milliseconds(5000));
  EXPECT_TRUE(backend.restart);
}

TEST(BoardBackendsTest, ReadyTimeoutAndRestartAreRead) {
  auto board = ParseBoard(DiskBoard(R"({"argv": ["qsd"], "socket": "/s.sock",
                                       "ready_timeout_ms": 250, "restart": false})"),
                          kBackendsBoardSource);
  ASSERT_TRUE(board) << board.error().ToString();
  auto backends = ResolveBoardBackends(*board, kStateDir);
  ASSERT_TRUE(backends) << backends.error().ToString();
  EXPECT_EQ((*backends)[0].ready_timeout, std::chrono::milliseconds(250));
  EXPECT_FALSE((*backends)[0].restart);
}

TEST(BoardBackendsTest, ArgvMustNameAProgram) {
  EXPECT_EQ(BackendError(DiskBoard(R"({"socket": "d.sock"})")),
            std::string(kField) +
                ".argv': node root.sys.disk: must not be empty: name the backend program to run");
  EXPECT_EQ(BackendError(DiskBoard(R"({"argv": [""], "socket": "d.sock"})")),
            std::string(kField) + ".argv[0]': node root.sys.disk: must name a program");
}

TEST(BoardBackendsTest, SocketIsRequired) {
  EXPECT_EQ(BackendError(DiskBoard(R"({"argv": ["qsd"]})")),
            std::string(kField) +
                ".socket': node root.sys.disk: must not be empty: name the socket the backend "
                "listens on");
}

TEST(BoardBackendsTest, AbsoluteSocketTooLongForSockaddrUnIsRejectedAtLoad) {
  std::string socket = "/" + std::string(107, 's');
  auto board = ParseBoard(DiskBoard(R"({"argv": ["qsd"], "socket": ")" + socket + "\"}"), kBackendsBoardSource);
  ASSERT_FALSE(board);
  EXPECT_NE(board.error().message().find("node root.sys.disk: socket path '/sss"),
            std::string::npos)
      << board.error().message();
  EXPECT_NE(board.error().message().find("is 108 bytes, at most 107 fit in sockaddr_un"),
            std::string::npos)
      << board.error().message();
  EXPECT_EQ(BackendError(DiskBoard(R"({"argv": ["qsd"], "socket": "/)" + std::string(106, 's') + "\"}")),
            "<valid>");
}

TEST(BoardBackendsTest, RelativeSocketTooLongOnceResolvedIsRejected) {
  // 13 bytes of "/run/trellis/" + 95 = 108.
  std::string error =
      BackendError(DiskBoard(R"({"argv": ["qsd"], "socket": ")" + std::string(95, 's') + "\"}"));
  EXPECT_NE(error.find(std::string(kField) + ".socket': node root.sys.disk: socket path "),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("is 108 bytes, at most 107 fit in sockaddr_un"), std::string::npos) << error;
  EXPECT_EQ(BackendError(DiskBoard(R"({"argv": ["qsd"], "socket": ")" + std::string(94, 's') + "\"}")),
            "<valid>");
}

TEST(BoardBackendsTest, DuplicateSocketIsRejected) {
  std::string second =
      R"(, {"name": "disk2", "backend": {"argv": ["qsd"], "socket": "/run/trellis/d.sock"}})";
  // The same text: caught at load.
  EXPECT_EQ(BackendError(DiskBoard(R"({"argv": ["qsd"], "socket": "/run/trellis/d.sock"})", "[]", second)),
            "field 'nodes[0].children[1].backend.socket': node root.sys.disk2: socket "
            "'/run/trellis/d.sock' is also the backend socket of root.sys.disk");
  // The same path once the relative one is resolved.
  EXPECT_EQ(BackendError(DiskBoard(R"({"argv": ["qsd"], "socket": "d.sock"})", "[]", second)),
            "field 'nodes[0].children[1].backend.socket': node root.sys.disk2: socket "
            "'/run/trellis/d.sock' is also the backend socket of root.sys.disk");
}

TEST(BoardBackendsTest, VirtioSocketPropertyMustAgreeWithTheBackend) {
  std::string backend = R"({"argv": ["qsd"], "socket": "/run/trellis/d.sock"})";
  auto property = [](const std::string& value) {
    return R"([{"key": "virtio.socket", "string_value": ")" + value + "\"}]";
  };
  EXPECT_EQ(BackendError(DiskBoard(backend, property("/tmp/other.sock"))),
            "field 'nodes[0].children[0].properties[0]': node root.sys.disk: 'virtio.socket' is "
            "'/tmp/other.sock' but the backend listens on '/run/trellis/d.sock'; drop the "
            "property (the manager sets it) or make them agree");
  EXPECT_EQ(BackendError(DiskBoard(backend, property("/run/trellis/./d.sock"))), "<valid>");
  EXPECT_EQ(BackendError(DiskBoard(backend, property("{runtime_dir}/d.sock"))), "<valid>");
  EXPECT_EQ(BackendError(DiskBoard(backend, property("{runtime_dir}/e.sock"))),
            "field 'nodes[0].children[0].properties[0]': node root.sys.disk: 'virtio.socket' is "
            "'{runtime_dir}/e.sock' but the backend listens on '/run/trellis/d.sock'; drop the "
            "property (the manager sets it) or make them agree");
  EXPECT_EQ(BackendError(DiskBoard(backend, R"([{"key": "virtio.socket", "int_value": 3}])")),
            "field 'nodes[0].children[0].properties[0]': node root.sys.disk: 'virtio.socket' "
            "must be a string naming the backend's socket");
}

TEST(BoardBackendsTest, UnknownBackendFieldIsRejected) {
  auto board =
      ParseBoard(DiskBoard(R"({"argv": ["qsd"], "socket": "d.sock", "sokcet": "x"})"), kBackendsBoardSource);
  EXPECT_FALSE(board);
}

}  // namespace
}  // namespace trellis::manager
