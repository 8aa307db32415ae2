// PowerClient: unary Power calls with deadlines and trellis errors.
#include "tools/powerctl/power_client.h"

#include "runtime/rpc/status.h"
#include "tools/client/internal/channel.h"

namespace trellis::powerctl {

namespace {

using power::v1::Power;

void SetDeadline(grpc::ClientContext& context, std::optional<std::chrono::milliseconds> timeout) {
  if (timeout) client::internal::SetTimeout(context, *timeout);
}

}  // namespace

Result<PowerClient> PowerClient::Connect(std::string endpoint, Options options) {
  TRELLIS_ASSIGN_OR_RETURN(auto channel, client::internal::OpenChannel(endpoint, "trellis-manager",
                                                                       options.connect_timeout));
  return PowerClient(std::move(endpoint), options, Power::NewStub(channel));
}

Result<power::v1::StatusResponse> PowerClient::Status() {
  grpc::ClientContext context;
  SetDeadline(context, options_.call_timeout);
  power::v1::StatusResponse response;
  grpc::Status status = stub_->Status(&context, {}, &response);
  if (!status.ok()) return Fail(rpc::FromStatus(status, "Power.Status"));
  return response;
}

Result<power::v1::SuspendResponse> PowerClient::Suspend(
    const power::v1::SuspendRequest& request, std::optional<std::chrono::milliseconds> timeout) {
  grpc::ClientContext context;
  SetDeadline(context, timeout);
  power::v1::SuspendResponse response;
  grpc::Status status = stub_->Suspend(&context, request, &response);
  if (!status.ok()) return Fail(rpc::FromStatus(status, "Power.Suspend"));
  return response;
}

Result<void> PowerClient::Resume(std::string reason) {
  grpc::ClientContext context;
  SetDeadline(context, options_.call_timeout);
  power::v1::ResumeRequest request;
  request.set_reason(std::move(reason));
  power::v1::ResumeResponse response;
  grpc::Status status = stub_->Resume(&context, request, &response);
  if (!status.ok()) return Fail(rpc::FromStatus(status, "Power.Resume"));
  return Ok();
}

Result<void> PowerClient::CancelSuspend() {
  grpc::ClientContext context;
  SetDeadline(context, options_.call_timeout);
  power::v1::CancelSuspendResponse response;
  grpc::Status status = stub_->CancelSuspend(&context, {}, &response);
  if (!status.ok()) return Fail(rpc::FromStatus(status, "Power.CancelSuspend"));
  return Ok();
}

Result<power::v1::ListLeasesResponse> PowerClient::ListLeases() {
  grpc::ClientContext context;
  SetDeadline(context, options_.call_timeout);
  power::v1::ListLeasesResponse response;
  grpc::Status status = stub_->ListLeases(&context, {}, &response);
  if (!status.ok()) return Fail(rpc::FromStatus(status, "Power.ListLeases"));
  return response;
}

Result<power::v1::SuspendPlan> PowerClient::PlanSuspend() {
  grpc::ClientContext context;
  SetDeadline(context, options_.call_timeout);
  power::v1::SuspendPlan plan;
  grpc::Status status = stub_->PlanSuspend(&context, {}, &plan);
  if (!status.ok()) return Fail(rpc::FromStatus(status, "Power.PlanSuspend"));
  return plan;
}

Result<power::v1::SuspendStats> PowerClient::Stats() {
  grpc::ClientContext context;
  SetDeadline(context, options_.call_timeout);
  power::v1::StatsResponse response;
  grpc::Status status = stub_->Stats(&context, {}, &response);
  if (!status.ok()) return Fail(rpc::FromStatus(status, "Power.Stats"));
  return response.stats();
}

}  // namespace trellis::powerctl
