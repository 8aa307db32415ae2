// FakePowerService and FakePowerServer.
#include "tools/powerctl/testing/fake_power_service.h"

#include <stdlib.h>

#include <filesystem>
#include <thread>

namespace trellis::powerctl::testing {

namespace {

using namespace std::chrono_literals;

// The sync API has no cancellation callback; a fake may poll.
void WaitUntilCancelled(grpc::ServerContext* context) {
  while (!context->IsCancelled()) std::this_thread::sleep_for(5ms);
}

}  // namespace

std::vector<power::v1::SuspendRequest> FakePowerService::suspend_requests() const {
  MutexLock lock(mutex_);
  return suspend_requests_;
}

std::vector<std::chrono::system_clock::time_point> FakePowerService::suspend_deadlines() const {
  MutexLock lock(mutex_);
  return suspend_deadlines_;
}

std::vector<std::string> FakePowerService::resume_reasons() const {
  MutexLock lock(mutex_);
  return resume_reasons_;
}

std::vector<LeaseRecord> FakePowerService::leases() const {
  MutexLock lock(mutex_);
  return leases_;
}

grpc::Status FakePowerService::Status(grpc::ServerContext*, const power::v1::StatusRequest*,
                                      power::v1::StatusResponse* response) {
  *response = config_.status;
  return grpc::Status::OK;
}

grpc::Status FakePowerService::Suspend(grpc::ServerContext* context,
                                       const power::v1::SuspendRequest* request,
                                       power::v1::SuspendResponse* response) {
  {
    MutexLock lock(mutex_);
    suspend_requests_.push_back(*request);
    suspend_deadlines_.push_back(context->deadline());
  }
  if (!config_.suspend_status.ok()) return config_.suspend_status;
  *response = config_.suspend;
  return grpc::Status::OK;
}

grpc::Status FakePowerService::Resume(grpc::ServerContext*, const power::v1::ResumeRequest* request,
                                      power::v1::ResumeResponse*) {
  MutexLock lock(mutex_);
  resume_reasons_.push_back(request->reason());
  return config_.resume_status;
}

grpc::Status FakePowerService::Watch(grpc::ServerContext* context, const power::v1::WatchRequest*,
                                     grpc::ServerWriter<power::v1::PowerEvent>* writer) {
  for (const auto& event : config_.events) writer->Write(event);
  WaitUntilCancelled(context);
  return grpc::Status::OK;
}

grpc::Status FakePowerService::AcquireWakeLease(
    grpc::ServerContext* context, const power::v1::AcquireWakeLeaseRequest* request,
    grpc::ServerWriter<power::v1::WakeLeaseEvent>* writer) {
  using Mode = FakePowerConfig::LeaseMode;
  if (config_.lease_mode == Mode::kEndBeforeGrant) return config_.lease_end_status;
  if (config_.lease_mode == Mode::kNeverGrant) {
    WaitUntilCancelled(context);
    return grpc::Status::CANCELLED;
  }
  size_t index;
  {
    MutexLock lock(mutex_);
    index = leases_.size();
    leases_.push_back({.name = request->name(), .granted = std::chrono::steady_clock::now()});
  }
  power::v1::WakeLeaseEvent event;
  event.mutable_granted()->set_lease_id(config_.lease_id);
  writer->Write(event);
  if (config_.lease_mode == Mode::kGrantThenRevoke) {
    std::this_thread::sleep_for(config_.revoke_after);
    event.mutable_revoked()->set_lease_id(config_.lease_id);
    event.mutable_revoked()->set_reason(config_.revoke_reason);
    writer->Write(event);
  } else {
    WaitUntilCancelled(context);
  }
  MutexLock lock(mutex_);
  leases_[index].released = std::chrono::steady_clock::now();
  return grpc::Status::OK;
}

grpc::Status FakePowerService::ListLeases(grpc::ServerContext*, const power::v1::ListLeasesRequest*,
                                          power::v1::ListLeasesResponse* response) {
  *response = config_.leases;
  return grpc::Status::OK;
}

grpc::Status FakePowerService::Stats(grpc::ServerContext*, const power::v1::StatsRequest*,
                                     power::v1::StatsResponse* response) {
  *response->mutable_stats() = config_.stats;
  return grpc::Status::OK;
}

grpc::Status FakePowerService::PlanSuspend(grpc::ServerContext*,
                                           const power::v1::PlanSuspendRequest*,
                                           power::v1::SuspendPlan* response) {
  *response = config_.plan;
  return grpc::Status::OK;
}

Result<std::unique_ptr<FakePowerServer>> FakePowerServer::Start(FakePowerConfig config) {
  std::unique_ptr<FakePowerServer> server(new FakePowerServer());
  char dir[] = "/tmp/powerctl-test-XXXXXX";
  if (mkdtemp(dir) == nullptr) return FailErrno(errno, "mkdtemp");
  server->dir_ = dir;
  server->endpoint_ = "unix:" + server->dir_ + "/manager.sock";
  server->service_ = std::make_unique<FakePowerService>(std::move(config));
  grpc::ServerBuilder builder;
  builder.AddListeningPort(server->endpoint_, grpc::InsecureServerCredentials());
  builder.RegisterService(server->service_.get());
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr) {
    return Fail(ErrorCode::kInternal, "cannot serve on " + server->endpoint_);
  }
  return server;
}

FakePowerServer::~FakePowerServer() {
  // A deadline in the past cancels open streams at once.
  if (server_) server_->Shutdown(std::chrono::system_clock::now());
  std::error_code ignored;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
}

}  // namespace trellis::powerctl::testing
