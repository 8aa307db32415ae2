// HostService: the DriverHost gRPC service a host serves to the manager over
// its control socketpair: start, stop, suspend and resume drivers, grant and
// revoke client access, ping, shut down.
#pragma once

#include <functional>

#include "runtime/host/driver_instance.h"
#include "runtime/host/host_registry.h"
#include "trellis/host/v1/host.grpc.pb.h"

namespace trellis::host {

class HostService final : public trellis::host::v1::DriverHost::CallbackService {
 public:
  // `endpoint` is the client socket clients reach the host's drivers on;
  // `on_shutdown` runs once a Shutdown call has stopped every driver.
  HostService(HostEnv env, HostRegistry* registry, std::string endpoint,
              std::function<void()> on_shutdown)
      : env_(std::move(env)), registry_(registry), endpoint_(std::move(endpoint)),
        on_shutdown_(std::move(on_shutdown)),
        deadlines_(Dispatcher::Create(*env_.runtime, {.name = "power-deadlines"})) {}

  grpc::ServerUnaryReactor* StartDriver(grpc::CallbackServerContext* context,
                                        const v1::StartDriverRequest* request,
                                        v1::StartDriverResponse* response) override;
  grpc::ServerUnaryReactor* StopDriver(grpc::CallbackServerContext* context,
                                       const v1::StopDriverRequest* request,
                                       v1::StopDriverResponse* response) override;
  grpc::ServerUnaryReactor* SuspendDriver(grpc::CallbackServerContext* context,
                                          const v1::SuspendDriverRequest* request,
                                          v1::SuspendDriverResponse* response) override;
  grpc::ServerUnaryReactor* ResumeDriver(grpc::CallbackServerContext* context,
                                         const v1::ResumeDriverRequest* request,
                                         v1::ResumeDriverResponse* response) override;
  grpc::ServerUnaryReactor* SuspendDrivers(grpc::CallbackServerContext* context,
                                           const v1::SuspendDriversRequest* request,
                                           v1::PowerBatchResponse* response) override;
  grpc::ServerUnaryReactor* ResumeDrivers(grpc::CallbackServerContext* context,
                                          const v1::ResumeDriversRequest* request,
                                          v1::PowerBatchResponse* response) override;
  grpc::ServerUnaryReactor* GrantAccess(grpc::CallbackServerContext* context,
                                        const v1::GrantAccessRequest* request,
                                        v1::GrantAccessResponse* response) override;
  grpc::ServerUnaryReactor* RevokeAccess(grpc::CallbackServerContext* context,
                                         const v1::RevokeAccessRequest* request,
                                         v1::RevokeAccessResponse* response) override;
  grpc::ServerUnaryReactor* Ping(grpc::CallbackServerContext* context,
                                 const v1::PingRequest* request,
                                 v1::PingResponse* response) override;
  grpc::ServerUnaryReactor* GetCounters(grpc::CallbackServerContext* context,
                                        const v1::GetCountersRequest* request,
                                        v1::GetCountersResponse* response) override;
  grpc::ServerUnaryReactor* Shutdown(grpc::CallbackServerContext* context,
                                     const v1::ShutdownRequest* request,
                                     v1::ShutdownResponse* response) override;

  // Stops every driver; `done` runs after the last one has drained.
  void StopAll(std::move_only_function<void()> done);

 private:
  // The instance at `node_path`; null after finishing `reactor` NOT_FOUND.
  std::shared_ptr<DriverInstance> FindOrFinish(const std::string& node_path,
                                               grpc::ServerUnaryReactor* reactor);

  // Runs `hook` for every entry of a batch; finishes `reactor` once each has
  // completed or missed its deadline. The hooks run in one pass on the
  // calling thread, each on its driver's dispatcher inline when that is idle
  // (BatchScope): drivers whose hooks complete at once cost no thread
  // hand-off at all.
  struct BatchEntry {
    std::string node_path;
    uint32_t deadline_ms = 0;
    std::move_only_function<void(DriverInstance&, DriverInstance::Done)> hook;
  };
  void RunBatch(std::vector<BatchEntry> entries, grpc::ServerUnaryReactor* reactor,
                v1::PowerBatchResponse* response);

  HostEnv env_;
  HostRegistry* registry_;
  std::string endpoint_;
  std::function<void()> on_shutdown_;
  // Unmanaged: fires the deadlines of batch hooks.
  Dispatcher deadlines_;
};

}  // namespace trellis::host
