// ManagerClient: unary DriverManager calls with deadlines and trellis errors.
#include "tools/client/client.h"

#include <unistd.h>

#include <cstdlib>

#include "runtime/rpc/status.h"
#include "tools/client/internal/channel.h"

namespace trellis::client {

namespace {

using manager::v1::DriverManager;

std::string EnvOrEmpty(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

}  // namespace

Result<std::string> DefaultManagerEndpoint() {
  std::string dir = EnvOrEmpty("TRELLIS_RUNTIME_DIR");
  if (dir.empty()) {
    std::string xdg = EnvOrEmpty("XDG_RUNTIME_DIR");
    dir = xdg.empty() ? "/tmp/trellis-" + std::to_string(getuid()) : xdg + "/trellis";
  }
  return "unix:" + dir + "/manager.sock";
}

Result<ManagerClient> ManagerClient::Connect(std::string endpoint, ClientOptions options) {
  TRELLIS_ASSIGN_OR_RETURN(auto channel,
                           internal::OpenChannel(endpoint, "trellis-manager", options.timeout));
  return ManagerClient(std::move(endpoint), options, DriverManager::NewStub(channel));
}

Result<manager::v1::ListNodesResponse> ManagerClient::ListNodes(std::string root) {
  grpc::ClientContext context;
  internal::SetTimeout(context, options_.timeout);
  manager::v1::ListNodesRequest request;
  request.set_root_path(std::move(root));
  manager::v1::ListNodesResponse response;
  grpc::Status status = stub_->ListNodes(&context, request, &response);
  if (!status.ok()) return Fail(rpc::FromStatus(status, "ListNodes"));
  return response;
}

Result<manager::v1::ListDriversResponse> ManagerClient::ListDrivers() {
  grpc::ClientContext context;
  internal::SetTimeout(context, options_.timeout);
  manager::v1::ListDriversResponse response;
  grpc::Status status = stub_->ListDrivers(&context, {}, &response);
  if (!status.ok()) return Fail(rpc::FromStatus(status, "ListDrivers"));
  return response;
}

Result<manager::v1::ListHostsResponse> ManagerClient::ListHosts() {
  grpc::ClientContext context;
  internal::SetTimeout(context, options_.timeout);
  manager::v1::ListHostsResponse response;
  grpc::Status status = stub_->ListHosts(&context, {}, &response);
  if (!status.ok()) return Fail(rpc::FromStatus(status, "ListHosts"));
  return response;
}

Result<manager::v1::BindResponse> ManagerClient::Bind(std::string node_path, std::string protocol) {
  grpc::ClientContext context;
  internal::SetTimeout(context, options_.timeout);
  manager::v1::BindRequest request;
  request.set_node_path(std::move(node_path));
  request.set_protocol(std::move(protocol));
  manager::v1::BindResponse response;
  grpc::Status status = stub_->Bind(&context, request, &response);
  if (!status.ok()) return Fail(rpc::FromStatus(status, "Bind"));
  return response;
}

Result<void> ManagerClient::Unbind(std::string token) {
  grpc::ClientContext context;
  internal::SetTimeout(context, options_.timeout);
  manager::v1::UnbindRequest request;
  request.set_token(std::move(token));
  manager::v1::UnbindResponse response;
  grpc::Status status = stub_->Unbind(&context, request, &response);
  if (!status.ok()) return Fail(rpc::FromStatus(status, "Unbind"));
  return Ok();
}

Result<manager::v1::RestartHostResponse> ManagerClient::RestartHost(std::string host_id) {
  grpc::ClientContext context;
  internal::SetTimeout(context, options_.timeout);
  manager::v1::RestartHostRequest request;
  request.set_host_id(std::move(host_id));
  manager::v1::RestartHostResponse response;
  grpc::Status status = stub_->RestartHost(&context, request, &response);
  if (!status.ok()) return Fail(rpc::FromStatus(status, "RestartHost"));
  return response;
}

}  // namespace trellis::client
