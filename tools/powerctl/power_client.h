// PowerClient: a synchronous client of the manager's trellis.power.v1.Power
// service, which trellis-manager serves on the same socket as DriverManager.
//
// Unary calls carry a deadline (Options::call_timeout) and return a
// trellis::Error converted from the gRPC status with the call named in the
// message ("Power.Suspend: wake leases held: ota"). The streaming calls
// (Watch, AcquireWakeLease) are made on stub() by their commands.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "runtime/error.h"
#include "trellis/power/v1/power.grpc.pb.h"

namespace trellis::powerctl {

class PowerClient {
 public:
  struct Options {
    // How long Connect waits for the connection (at most 5 s).
    std::chrono::milliseconds connect_timeout = std::chrono::seconds(10);
    // Deadline of Status, Resume, ListLeases and Stats; nullopt: none.
    std::optional<std::chrono::milliseconds> call_timeout = std::chrono::seconds(10);
  };

  // Opens a channel to `endpoint` ("unix:/path/manager.sock" or any gRPC
  // target) and waits for it to connect. Blocks.
  // Errors: kUnavailable — the socket file is missing or nothing accepts
  // connections there ("cannot reach trellis-manager at ...: is it
  // running?"); kInvalidArgument for an empty endpoint.
  [[nodiscard]] static Result<PowerClient> Connect(std::string endpoint, Options options);

  PowerClient(PowerClient&&) = default;
  PowerClient& operator=(PowerClient&&) = default;

  const std::string& endpoint() const { return endpoint_; }
  // The raw stub, for the streaming calls. Valid as long as this client.
  power::v1::Power::Stub& stub() { return *stub_; }

  // Power.Status. Errors: kUnavailable if the manager went away,
  // kDeadlineExceeded after the call timeout, kUnimplemented if the manager
  // predates the Power service.
  [[nodiscard]] Result<power::v1::StatusResponse> Status();

  // Power.Suspend: blocks until the system has resumed or the attempt
  // failed, for at most `timeout` (nullopt: no deadline, the call may take
  // as long as the system stays suspended). A failed or aborted attempt is
  // a successful call; see SuspendResponse.outcome.
  // Errors: kFailedPrecondition if the system is not running or the wake
  // generation moved; kDeadlineExceeded if leases were still held after
  // `wait` (or `timeout` passed); kInvalidArgument for a negative duration.
  [[nodiscard]] Result<power::v1::SuspendResponse> Suspend(
      const power::v1::SuspendRequest& request, std::optional<std::chrono::milliseconds> timeout);

  // Power.Resume. A no-op on a running system. Errors as for Status.
  [[nodiscard]] Result<void> Resume(std::string reason);

  // Power.CancelSuspend: cancels the queued suspend. Errors as for Status,
  // and kFailedPrecondition if none is queued.
  [[nodiscard]] Result<void> CancelSuspend();

  // Power.ListLeases: every held lease, by id. Errors as for Status.
  [[nodiscard]] Result<power::v1::ListLeasesResponse> ListLeases();

  // Power.Stats. Errors as for Status.
  [[nodiscard]] Result<power::v1::SuspendStats> Stats();

  // Power.PlanSuspend: what a suspend would do now. Errors as for Status.
  [[nodiscard]] Result<power::v1::SuspendPlan> PlanSuspend();

 private:
  PowerClient(std::string endpoint, Options options, std::unique_ptr<power::v1::Power::Stub> stub)
      : endpoint_(std::move(endpoint)), options_(options), stub_(std::move(stub)) {}

  std::string endpoint_;
  Options options_;
  std::unique_ptr<power::v1::Power::Stub> stub_;
};

}  // namespace trellis::powerctl
