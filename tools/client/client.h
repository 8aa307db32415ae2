// ManagerClient: a synchronous client of trellis-manager's DriverManager
// service, and DefaultManagerEndpoint, where the manager listens by default.
//
// Every call carries a deadline (ClientOptions::timeout) and returns a
// trellis::Error converted from the gRPC status with the call named in the
// message ("DriverManager.ListNodes(root.x): no node root.x").
//
// To talk to a driver, Bind a node's protocol here and hand the BindResponse
// to DeviceClient (device_client.h).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "runtime/error.h"
#include "trellis/manager/v1/manager.grpc.pb.h"

namespace trellis::client {

// How calls are made.
struct ClientOptions {
  // Deadline of each unary call, and the longest Connect waits for the
  // connection to come up.
  std::chrono::milliseconds timeout = std::chrono::seconds(10);
};

// The gRPC target trellis-manager listens on when started without
// --runtime-dir: "unix:<dir>/manager.sock" where <dir> is
// $TRELLIS_RUNTIME_DIR, else $XDG_RUNTIME_DIR/trellis, else /tmp/trellis-$UID
// (the same rule as trellis-manager). Reads the environment only.
// Errors: none today; Result leaves room for a lookup that can fail.
[[nodiscard]] Result<std::string> DefaultManagerEndpoint();

class ManagerClient {
 public:
  // Opens a channel to `endpoint` ("unix:/path/manager.sock" or any gRPC
  // target) and waits up to options.timeout (at most 5 s) for it to connect.
  // Blocks.
  // Errors:
  //   kUnavailable  — the unix socket file does not exist, or nothing
  //                   accepts connections there: "cannot reach
  //                   trellis-manager at unix:...: is it running?".
  static Result<ManagerClient> Connect(std::string endpoint, ClientOptions options = {});

  ManagerClient(ManagerClient&&) = default;
  ManagerClient& operator=(ManagerClient&&) = default;

  // The target this client is connected to.
  const std::string& endpoint() const { return endpoint_; }
  // The raw stub, for calls this class does not wrap (WatchEvents,
  // BindDriver). Valid as long as this client.
  manager::v1::DriverManager::Stub& stub() { return *stub_; }

  // The node at `root` and all its descendants, parents before children.
  // Errors: kNotFound for an unknown root; kUnavailable if the manager went
  // away; kDeadlineExceeded after the timeout.
  [[nodiscard]] Result<manager::v1::ListNodesResponse> ListNodes(std::string root = "root");
  // All loaded driver manifests, by name. Errors as for ListNodes.
  [[nodiscard]] Result<manager::v1::ListDriversResponse> ListDrivers();
  // All driver hosts, including crashed and quarantined ones. Errors as for
  // ListNodes.
  [[nodiscard]] Result<manager::v1::ListHostsResponse> ListHosts();
  // Resolves `protocol` at `node_path` to an endpoint and token.
  // Errors: kNotFound if the node does not exist or does not expose the
  // protocol; kPermissionDenied if the driver's access list excludes us.
  [[nodiscard]] Result<manager::v1::BindResponse> Bind(std::string node_path, std::string protocol);
  // Revokes a token from Bind. Errors: kNotFound if unknown or revoked.
  [[nodiscard]] Result<void> Unbind(std::string token);
  // Restarts a host and rebinds its nodes; returns the host's new state.
  // Errors: kNotFound for an unknown host id.
  [[nodiscard]] Result<manager::v1::RestartHostResponse> RestartHost(std::string host_id);

  // Why the node has its driver, or none. Errors: kNotFound.
  [[nodiscard]] Result<manager::v1::ExplainBindingResponse> ExplainBinding(std::string node_path);
  // The driver index at run time; see manager.proto for each call's errors
  // (kPermissionDenied unless root or the manager's user).
  [[nodiscard]] Result<manager::v1::RegisterDriverResponse> RegisterDriver(
      std::string manifest_path);
  [[nodiscard]] Result<manager::v1::DisableDriverResponse> DisableDriver(std::string name);
  [[nodiscard]] Result<manager::v1::EnableDriverResponse> EnableDriver(std::string name);
  // Test nodes (DFv2's AddTestNode).
  [[nodiscard]] Result<manager::v1::AddTestNodeResponse> AddTestNode(
      manager::v1::AddTestNodeRequest request);
  [[nodiscard]] Result<void> RemoveTestNode(std::string node_path);
  // The instances of a class ("block"; empty: every class).
  [[nodiscard]] Result<manager::v1::ListClassResponse> ListClass(std::string class_name);

 private:
  // One unary call with the client's timeout; errors name `call`.
  template <typename Request, typename Response>
  Result<Response> Unary(grpc::Status (manager::v1::DriverManager::Stub::*method)(
                             grpc::ClientContext*, const Request&, Response*),
                         const Request& request, std::string_view call);

  ManagerClient(std::string endpoint, ClientOptions options,
                std::unique_ptr<manager::v1::DriverManager::Stub> stub)
      : endpoint_(std::move(endpoint)), options_(options), stub_(std::move(stub)) {}

  std::string endpoint_;
  ClientOptions options_;
  std::unique_ptr<manager::v1::DriverManager::Stub> stub_;
};

}  // namespace trellis::client
