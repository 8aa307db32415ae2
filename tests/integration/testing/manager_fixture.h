// ManagerFixture: runs a real Manager (in this process) that launches real
// trellis-host processes, over real Unix sockets, with a board and driver
// manifests written to a fresh temp dir. Clients use the public gRPC API.
#pragma once

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "manager/manager.h"
#include "trellis/device/v1/device.grpc.pb.h"
#include "trellis/manager/v1/manager.grpc.pb.h"

namespace trellis::testing {

// A fresh directory under /tmp, removed with everything in it.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// The echo manifest with overrides, e.g. EchoManifest({{"host_restart_on_crash", "false"}}).
std::string EchoManifest(const std::map<std::string, std::string>& overrides = {});
// A board with `children_json` under root.sys.
std::string Board(const std::string& children_json);
// A board node JSON for an echo subtree.
std::string EchoNode(const std::string& name, int depth, int children,
                     const std::string& extra_properties = "");

// The manifest of a driver we ship (manifests/drivers/<name>), as text.
std::string ShippedManifest(const std::string& name);

// A node property as text ("<none>" if absent): strings as they are,
// integers in decimal.
std::string PropertyText(const node::v1::NodeInfo& node, const std::string& key);

class ManagerFixture : public ::testing::Test {
 public:
  // A client context carrying `token`, with a deadline.
  static std::unique_ptr<grpc::ClientContext> WithToken(
      const std::string& token, std::chrono::milliseconds timeout = std::chrono::seconds(10));

 protected:
  void TearDown() override { StopManager(); }

  // Writes the board and manifests (filename → JSON; driver .so files are
  // copied beside them) and starts the manager. Fails the test on error.
  void StartManager(const std::string& board_json,
                    const std::map<std::string, std::string>& manifests,
                    std::function<void(manager::ManagerOptions&)> tweak = nullptr);
  void StopManager();

  manager::v1::DriverManager::Stub& stub() { return *stub_; }
  // One DriverManager call with a 20 s deadline; the response is dropped
  // if `response` is null.
  template <typename Request, typename Response>
  grpc::Status Call(grpc::Status (manager::v1::DriverManager::Stub::*method)(
                        grpc::ClientContext*, const Request&, Response*),
                    const Request& request, Response* response = nullptr) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    Response ignored;
    return (stub().*method)(&context, request, response ? response : &ignored);
  }
  std::vector<node::v1::NodeInfo> Nodes();
  std::optional<node::v1::NodeInfo> FindNode(const std::string& path);
  // Polls ListNodes until `pred` holds or `timeout` passes.
  bool WaitUntil(const std::function<bool()>& pred,
                 std::chrono::milliseconds timeout = std::chrono::seconds(20));
  bool WaitForNodeState(const std::string& path, node::v1::NodeState state,
                        std::chrono::milliseconds timeout = std::chrono::seconds(20));
  pid_t HostPid(const std::string& host_id);

  struct Bound {
    std::string token;
    std::string endpoint;
    std::unique_ptr<device::v1::Device::Stub> device;
  };
  // Binds to `path`'s Device protocol; fails the test on error.
  Bound BindDevice(const std::string& path);

  TempDir dir_;
  std::unique_ptr<manager::Manager> manager_;
  std::unique_ptr<manager::v1::DriverManager::Stub> stub_;
};

}  // namespace trellis::testing
