// DriverContext: everything a driver gets from its host (after Fuchsia's
// DriverContext): start args, its node, dispatchers, the io_uring reactor,
// outgoing protocols, logging and wake leases. A cheap copyable view; valid
// until the driver is destroyed.
#pragma once

#include <string>
#include <string_view>

#include "runtime/dispatcher.h"
#include "runtime/driver/host_api.h"
#include "runtime/reactor.h"
#include "runtime/runtime.h"

namespace trellis {

class DriverContext {
 public:
  explicit DriverContext(DriverHostApi* api) : api_(api) {}

  const StartArgs& start_args() const { return api_->start_args(); }
  const std::string& node_path() const { return api_->start_args().node_path; }

  // The driver's default dispatcher: lifecycle calls and protocol methods run
  // here. Power-managed when the manifest says so.
  UnownedDispatcher dispatcher() const { return api_->dispatcher(); }
  // A further dispatcher for the driver, shut down by the driver itself.
  Dispatcher CreateDispatcher(DispatcherOptions options) const {
    return Dispatcher::Create(api_->runtime(), std::move(options));
  }
  Reactor& reactor() const { return api_->runtime().reactor(); }

  // Node operations (see DriverHostApi).
  void AddChild(ChildArgs args, std::move_only_function<void(Result<std::string>)> done) const {
    api_->AddChild(std::move(args), std::move(done));
  }
  void RemoveChild(std::string name, std::move_only_function<void(Result<void>)> done) const {
    api_->RemoveChild(std::move(name), std::move(done));
  }

  // Wake leases keep the system from suspending while held (RAII): a
  // driver takes one while it has work that must finish before suspend.
  // `done` runs on the driver's dispatcher with the lease, or with
  // kFailedPrecondition if the manager refuses it.
  void AcquireWakeLease(std::string name,
                        std::move_only_function<void(Result<WakeLease>)> done) const {
    api_->AcquireWakeLease(std::move(name), std::move(done));
  }

  // Hands `lease` over to the lease a client acquired (or will acquire)
  // with `token`, a token the client minted and passed to the driver with
  // its acknowledgement (Power.HandOffWakeLease): the system stays up
  // until the client's lease is granted, which then derives from this one,
  // so no suspend can start between the driver letting go and the client
  // taking over. Consumes the lease; it is released once the manager has
  // recorded the hand-off. `done` runs on the driver's dispatcher.
  // Errors: kInvalidArgument (no lease, malformed token), kNotFound (the
  // lease has ended), kFailedPrecondition (already handed off).
  void HandOffWakeLease(WakeLease lease, std::string token,
                        std::move_only_function<void(Result<void>)> done) const {
    api_->HandOffWakeLease(std::move(lease), std::move(token), std::move(done));
  }

  // Arms a wake vector (manifest power.wake_capable required, else
  // kFailedPrecondition): when `fd` polls ready for `events`, the host
  // reports a wake named `reason` to the manager — a suspend in progress
  // aborts, a suspended system resumes — and `on_wake(revents)` runs on the
  // driver's dispatcher. If the driver is suspended, on_wake runs right
  // after SystemResume (which gets the wake's lease) and before any task
  // queued meanwhile. One-shot: re-arm from on_wake. The fd must stay open
  // while armed.
  Result<WakeVector> ArmWakeVector(int fd, short events, std::string reason,
                                   WakeHandler on_wake) const {
    return api_->ArmWakeVector(fd, events, std::move(reason), std::move(on_wake));
  }
  // Reports a wake the driver detected itself (e.g. on an unmanaged
  // dispatcher); same effect on the system as a wake vector firing.
  void ReportWake(std::string reason) const { api_->ReportWake(std::move(reason)); }

  // Serves a typed protocol: context.Serve<DeviceProtocol>(*this).
  template <typename Protocol>
  Result<void> Serve(Protocol& impl) const {
    return api_->ServeProtocol(Protocol::kName, static_cast<Protocol*>(&impl));
  }

  // Connects to a typed protocol the parent's driver offers on this node
  // (ChildArgs::Offer): context.Connect<BlockProtocol>(done) gives `done` a
  // std::unique_ptr<BlockProtocol::Client>, on the driver's dispatcher. The
  // client works whether the parent runs in this host (direct calls on its
  // dispatcher) or another (gRPC); destroy it on the driver's dispatcher.
  template <typename Protocol>
  void Connect(
      std::move_only_function<void(Result<std::unique_ptr<typename Protocol::Client>>)> done) const {
    ConnectTo<Protocol>(std::string(Protocol::kName), std::move(done));
  }
  // The same, for a composite node's driver: the protocol its parent
  // `parent` (the name in the composite spec) serves,
  // context.Connect<BlockProtocol>("a", done).
  template <typename Protocol>
  void Connect(
      std::string_view parent,
      std::move_only_function<void(Result<std::unique_ptr<typename Protocol::Client>>)> done) const {
    ConnectTo<Protocol>(std::string(parent) + "/" + Protocol::kName, std::move(done));
  }

 private:
  template <typename Protocol>
  void ConnectTo(
      std::string offer,
      std::move_only_function<void(Result<std::unique_ptr<typename Protocol::Client>>)> done) const {
    api_->Connect(offer, [done = std::move(done)](
                             Result<std::unique_ptr<ProtocolClient>> client) mutable {
      if (!client) {
        done(Fail(client.error()));
        return;
      }
      done(std::unique_ptr<typename Protocol::Client>(
          static_cast<typename Protocol::Client*>(client->release())));
    });
  }

 public:

  // Logs with the driver's and node's names attached.
  void Log(LogLevel level, std::string_view message) const { api_->Log(level, message); }
  void LogInfo(std::string_view message) const { Log(LogLevel::kInfo, message); }
  void LogWarning(std::string_view message) const { Log(LogLevel::kWarning, message); }
  void LogError(std::string_view message) const { Log(LogLevel::kError, message); }

 private:
  DriverHostApi* api_;
};

}  // namespace trellis
