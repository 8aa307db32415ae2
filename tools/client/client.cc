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

template <typename Request, typename Response>
Result<Response> ManagerClient::Unary(grpc::Status (manager::v1::DriverManager::Stub::*method)(
                                          grpc::ClientContext*, const Request&, Response*),
                                      const Request& request, std::string_view call) {
  grpc::ClientContext context;
  internal::SetTimeout(context, options_.timeout);
  Response response;
  grpc::Status status = ((*stub_).*method)(&context, request, &response);
  if (!status.ok()) return Fail(rpc::FromStatus(status, std::string(call)));
  return response;
}

Result<manager::v1::ExplainBindingResponse> ManagerClient::ExplainBinding(std::string node_path) {
  manager::v1::ExplainBindingRequest request;
  request.set_node_path(std::move(node_path));
  return Unary(&manager::v1::DriverManager::Stub::ExplainBinding, request, "ExplainBinding");
}

Result<manager::v1::RegisterDriverResponse> ManagerClient::RegisterDriver(
    std::string manifest_path) {
  manager::v1::RegisterDriverRequest request;
  request.set_manifest_path(std::move(manifest_path));
  return Unary(&manager::v1::DriverManager::Stub::RegisterDriver, request, "RegisterDriver");
}

Result<manager::v1::DisableDriverResponse> ManagerClient::DisableDriver(std::string name) {
  manager::v1::DisableDriverRequest request;
  request.set_driver_name(std::move(name));
  return Unary(&manager::v1::DriverManager::Stub::DisableDriver, request, "DisableDriver");
}

Result<manager::v1::EnableDriverResponse> ManagerClient::EnableDriver(std::string name) {
  manager::v1::EnableDriverRequest request;
  request.set_driver_name(std::move(name));
  return Unary(&manager::v1::DriverManager::Stub::EnableDriver, request, "EnableDriver");
}

Result<manager::v1::AddTestNodeResponse> ManagerClient::AddTestNode(
    manager::v1::AddTestNodeRequest request) {
  return Unary(&manager::v1::DriverManager::Stub::AddTestNode, request, "AddTestNode");
}

Result<void> ManagerClient::RemoveTestNode(std::string node_path) {
  manager::v1::RemoveTestNodeRequest request;
  request.set_node_path(std::move(node_path));
  TRELLIS_TRY(Unary(&manager::v1::DriverManager::Stub::RemoveTestNode, request, "RemoveTestNode"));
  return Ok();
}

Result<manager::v1::ListClassResponse> ManagerClient::ListClass(std::string class_name) {
  manager::v1::ListClassRequest request;
  request.set_class_name(std::move(class_name));
  return Unary(&manager::v1::DriverManager::Stub::ListClass, request, "ListClass");
}

}  // namespace trellis::client
