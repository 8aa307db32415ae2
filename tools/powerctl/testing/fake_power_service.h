// FakePowerServer: an in-process trellis.power.v1.Power server on a unix
// socket in a fresh temporary directory, answering with canned replies and
// recording what it was asked, for testing powerctl without a manager.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/error.h"
#include "runtime/mutex.h"
#include "trellis/power/v1/power.grpc.pb.h"

namespace trellis::powerctl::testing {

// What the fake answers. Set before Start; not changed while serving.
struct FakePowerConfig {
  power::v1::StatusResponse status;
  power::v1::ListLeasesResponse leases;
  power::v1::SuspendStats stats;
  power::v1::SuspendPlan plan;
  // Suspend answers `suspend_status` if it is not OK, else `suspend`.
  power::v1::SuspendResponse suspend;
  grpc::Status suspend_status;
  grpc::Status resume_status;
  // Watch sends these, then waits until the client goes away.
  std::vector<power::v1::PowerEvent> events;

  // How AcquireWakeLease behaves.
  enum class LeaseMode {
    kGrant,            // granted, then held until the client cancels.
    kGrantThenRevoke,  // granted, revoked after `revoke_after`, stream ends OK.
    kEndBeforeGrant,   // ends at once with `lease_end_status`.
    kNeverGrant,       // sends nothing until the client cancels.
  };
  LeaseMode lease_mode = LeaseMode::kGrant;
  uint64_t lease_id = 7;
  std::chrono::milliseconds revoke_after{100};
  std::string revoke_reason = "manager shutting down";
  grpc::Status lease_end_status =
      grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "too many leases");
};

// One AcquireWakeLease call as the fake saw it.
struct LeaseRecord {
  std::string name;
  std::chrono::steady_clock::time_point granted;
  // When the client closed the stream; nullopt while it is open.
  std::optional<std::chrono::steady_clock::time_point> released;
};

class FakePowerService final : public power::v1::Power::Service {
 public:
  explicit FakePowerService(FakePowerConfig config) : config_(std::move(config)) {}

  // What the fake was asked, in order.
  std::vector<power::v1::SuspendRequest> suspend_requests() const;
  // The deadline of each Suspend call as the server saw it.
  std::vector<std::chrono::system_clock::time_point> suspend_deadlines() const;
  std::vector<std::string> resume_reasons() const;
  std::vector<LeaseRecord> leases() const;

  grpc::Status Status(grpc::ServerContext*, const power::v1::StatusRequest*,
                      power::v1::StatusResponse* response) override;
  grpc::Status Suspend(grpc::ServerContext* context, const power::v1::SuspendRequest* request,
                       power::v1::SuspendResponse* response) override;
  grpc::Status Resume(grpc::ServerContext*, const power::v1::ResumeRequest* request,
                      power::v1::ResumeResponse*) override;
  grpc::Status Watch(grpc::ServerContext* context, const power::v1::WatchRequest*,
                     grpc::ServerWriter<power::v1::PowerEvent>* writer) override;
  grpc::Status AcquireWakeLease(grpc::ServerContext* context,
                                const power::v1::AcquireWakeLeaseRequest* request,
                                grpc::ServerWriter<power::v1::WakeLeaseEvent>* writer) override;
  grpc::Status ListLeases(grpc::ServerContext*, const power::v1::ListLeasesRequest*,
                          power::v1::ListLeasesResponse* response) override;
  grpc::Status Stats(grpc::ServerContext*, const power::v1::StatsRequest*,
                     power::v1::StatsResponse* response) override;
  grpc::Status PlanSuspend(grpc::ServerContext*, const power::v1::PlanSuspendRequest*,
                           power::v1::SuspendPlan* response) override;

 private:
  const FakePowerConfig config_;
  mutable Mutex mutex_;
  std::vector<power::v1::SuspendRequest> suspend_requests_ TRELLIS_GUARDED_BY(mutex_);
  std::vector<std::chrono::system_clock::time_point> suspend_deadlines_ TRELLIS_GUARDED_BY(mutex_);
  std::vector<std::string> resume_reasons_ TRELLIS_GUARDED_BY(mutex_);
  std::vector<LeaseRecord> leases_ TRELLIS_GUARDED_BY(mutex_);
};

class FakePowerServer {
 public:
  // Serves `config` on unix:<new temp dir>/manager.sock. Blocks until it
  // listens. Errors: kInternal if the server does not start.
  [[nodiscard]] static Result<std::unique_ptr<FakePowerServer>> Start(FakePowerConfig config);
  // Shuts down (cancelling open streams) and removes the directory.
  ~FakePowerServer();

  // "unix:/tmp/.../manager.sock", for --endpoint.
  const std::string& endpoint() const { return endpoint_; }
  FakePowerService& service() { return *service_; }

 private:
  FakePowerServer() = default;

  std::string dir_;
  std::string endpoint_;
  std::unique_ptr<FakePowerService> service_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace trellis::powerctl::testing
