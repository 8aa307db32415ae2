// PowerService: the Power gRPC service on the manager's client socket —
// system suspend/resume, state and transitions, wake leases for clients, and
// suspend statistics. Every call is handed to the governor on the manager's
// dispatcher.
#pragma once

#include <string_view>

#include "runtime/error.h"
#include "runtime/rpc/peer_acceptor.h"
#include "trellis/power/v1/power.grpc.pb.h"

namespace trellis::manager {

class Manager;
using rpc::PeerCredentials;

class PowerService final : public power::v1::Power::CallbackService {
 public:
  explicit PowerService(Manager* manager) : manager_(manager) {}

  grpc::ServerUnaryReactor* Status(grpc::CallbackServerContext* context,
                                   const power::v1::StatusRequest* request,
                                   power::v1::StatusResponse* response) override;
  grpc::ServerUnaryReactor* Suspend(grpc::CallbackServerContext* context,
                                    const power::v1::SuspendRequest* request,
                                    power::v1::SuspendResponse* response) override;
  grpc::ServerUnaryReactor* Resume(grpc::CallbackServerContext* context,
                                   const power::v1::ResumeRequest* request,
                                   power::v1::ResumeResponse* response) override;
  grpc::ServerWriteReactor<power::v1::PowerEvent>* Watch(
      grpc::CallbackServerContext* context, const power::v1::WatchRequest* request) override;
  grpc::ServerWriteReactor<power::v1::WakeLeaseEvent>* AcquireWakeLease(
      grpc::CallbackServerContext* context,
      const power::v1::AcquireWakeLeaseRequest* request) override;
  grpc::ServerUnaryReactor* ListLeases(grpc::CallbackServerContext* context,
                                       const power::v1::ListLeasesRequest* request,
                                       power::v1::ListLeasesResponse* response) override;
  grpc::ServerUnaryReactor* Stats(grpc::CallbackServerContext* context,
                                  const power::v1::StatsRequest* request,
                                  power::v1::StatsResponse* response) override;
  grpc::ServerWriteReactor<power::v1::SuspendBlockerEvent>* RegisterSuspendBlocker(
      grpc::CallbackServerContext* context,
      const power::v1::RegisterSuspendBlockerRequest* request) override;
  grpc::ServerUnaryReactor* AckSuspendBlocker(grpc::CallbackServerContext* context,
                                              const power::v1::AckSuspendBlockerRequest* request,
                                              power::v1::AckSuspendBlockerResponse* response) override;
  grpc::ServerUnaryReactor* HandOffWakeLease(grpc::CallbackServerContext* context,
                                             const power::v1::HandOffWakeLeaseRequest* request,
                                             power::v1::HandOffWakeLeaseResponse* response) override;
  grpc::ServerUnaryReactor* CancelSuspend(grpc::CallbackServerContext* context,
                                          const power::v1::CancelSuspendRequest* request,
                                          power::v1::CancelSuspendResponse* response) override;
  grpc::ServerUnaryReactor* PlanSuspend(grpc::CallbackServerContext* context,
                                        const power::v1::PlanSuspendRequest* request,
                                        power::v1::SuspendPlan* response) override;

 private:
  // The calling process once it may change the system's power state (`what`
  // names the call): root, the manager's own user, or a member of the
  // manager's power group (ManagerOptions::power_group).
  // Errors: kUnauthenticated when the connection's identity is unknown;
  // kPermissionDenied naming the caller's uid and what it would need.
  Result<PeerCredentials> AuthorizePower(grpc::CallbackServerContext* context,
                                         std::string_view what) const;
  Manager* manager_;
};

}  // namespace trellis::manager
