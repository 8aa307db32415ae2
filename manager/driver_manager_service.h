// DriverManagerService: the DriverManager gRPC service clients reach on
// unix:$TRELLIS_RUNTIME_DIR/manager.sock — listings, topology events, host
// restarts, and Bind, which checks the caller's SO_PEERCRED identity against
// the driver's manifest before handing out a capability token. Changing
// the driver index or adding test nodes takes root or the manager's user.
#pragma once

#include <string_view>

#include "manager/topology/node.h"
#include "runtime/error.h"
#include "trellis/manager/v1/manager.grpc.pb.h"

namespace trellis::manager {

class Manager;

// The wire form of a node's state.
node::v1::NodeState StateToProto(NodeState state);

class DriverManagerService final : public manager::v1::DriverManager::CallbackService {
 public:
  explicit DriverManagerService(Manager* manager) : manager_(manager) {}

  grpc::ServerUnaryReactor* ListNodes(grpc::CallbackServerContext* context,
                                      const v1::ListNodesRequest* request,
                                      v1::ListNodesResponse* response) override;
  grpc::ServerUnaryReactor* ListDrivers(grpc::CallbackServerContext* context,
                                        const v1::ListDriversRequest* request,
                                        v1::ListDriversResponse* response) override;
  grpc::ServerUnaryReactor* ListHosts(grpc::CallbackServerContext* context,
                                      const v1::ListHostsRequest* request,
                                      v1::ListHostsResponse* response) override;
  grpc::ServerWriteReactor<v1::TopologyEvent>* WatchEvents(
      grpc::CallbackServerContext* context, const v1::WatchEventsRequest* request) override;
  grpc::ServerUnaryReactor* RestartHost(grpc::CallbackServerContext* context,
                                        const v1::RestartHostRequest* request,
                                        v1::RestartHostResponse* response) override;
  grpc::ServerUnaryReactor* Bind(grpc::CallbackServerContext* context,
                                 const v1::BindRequest* request,
                                 v1::BindResponse* response) override;
  grpc::ServerUnaryReactor* Unbind(grpc::CallbackServerContext* context,
                                   const v1::UnbindRequest* request,
                                   v1::UnbindResponse* response) override;
  grpc::ServerUnaryReactor* BindDriver(grpc::CallbackServerContext* context,
                                       const v1::BindDriverRequest* request,
                                       v1::BindDriverResponse* response) override;

  // driver_index_handlers.cc
  grpc::ServerUnaryReactor* ExplainBinding(grpc::CallbackServerContext* context,
                                           const v1::ExplainBindingRequest* request,
                                           v1::ExplainBindingResponse* response) override;
  grpc::ServerUnaryReactor* RegisterDriver(grpc::CallbackServerContext* context,
                                           const v1::RegisterDriverRequest* request,
                                           v1::RegisterDriverResponse* response) override;
  grpc::ServerUnaryReactor* DisableDriver(grpc::CallbackServerContext* context,
                                          const v1::DisableDriverRequest* request,
                                          v1::DisableDriverResponse* response) override;
  grpc::ServerUnaryReactor* EnableDriver(grpc::CallbackServerContext* context,
                                         const v1::EnableDriverRequest* request,
                                         v1::EnableDriverResponse* response) override;
  grpc::ServerUnaryReactor* AddTestNode(grpc::CallbackServerContext* context,
                                        const v1::AddTestNodeRequest* request,
                                        v1::AddTestNodeResponse* response) override;
  grpc::ServerUnaryReactor* RemoveTestNode(grpc::CallbackServerContext* context,
                                           const v1::RemoveTestNodeRequest* request,
                                           v1::RemoveTestNodeResponse* response) override;
  grpc::ServerUnaryReactor* AddCompositeSpec(grpc::CallbackServerContext* context,
                                             const v1::AddCompositeSpecRequest* request,
                                             v1::AddCompositeSpecResponse* response) override;
  // class_handlers.cc
  grpc::ServerUnaryReactor* ListClass(grpc::CallbackServerContext* context,
                                      const v1::ListClassRequest* request,
                                      v1::ListClassResponse* response) override;
  grpc::ServerWriteReactor<v1::ClassEvent>* WatchClass(
      grpc::CallbackServerContext* context, const v1::WatchClassRequest* request) override;
  // manager/inspect_handlers.cc.
  grpc::ServerUnaryReactor* Inspect(grpc::CallbackServerContext* context,
                                    const v1::InspectRequest* request,
                                    v1::InspectResponse* response) override;
  // manager/log_handlers.cc.
  grpc::ServerWriteReactor<v1::LogEntry>* ReadLogs(
      grpc::CallbackServerContext* context, const v1::ReadLogsRequest* request) override;

 private:
  // Whether the caller may change the driver index or the topology (`what`
  // names the change): root or the manager's own user.
  // Errors: kUnauthenticated (unknown connection), kPermissionDenied.
  Result<void> CheckAdmin(grpc::CallbackServerContext* context, std::string_view what) const;

  Manager* manager_;
};

}  // namespace trellis::manager
