// DriverManagerService: the DriverManager gRPC service clients reach on
// unix:$TRELLIS_RUNTIME_DIR/manager.sock — listings, topology events, host
// restarts, and Bind, which checks the caller's SO_PEERCRED identity against
// the driver's manifest before handing out a capability token.
#pragma once

#include "trellis/manager/v1/manager.grpc.pb.h"

namespace trellis::manager {

class Manager;

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

 private:
  Manager* manager_;
};

}  // namespace trellis::manager
