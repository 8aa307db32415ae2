// DriverHostApi: what the driver host provides to one driver instance. Drivers
// use it through DriverContext; the host implements it (runtime/host/).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/dispatcher.h"
#include "runtime/driver/properties.h"
#include "runtime/driver/protocol_client.h"
#include "runtime/driver/start_args.h"
#include "runtime/driver/wake_lease.h"
#include "runtime/driver/wake_vector.h"
#include "runtime/error.h"

namespace trellis {

class Runtime;

enum class LogLevel { kDebug, kInfo, kWarning, kError };

// A protocol a driver serves for one of its child nodes (DFv2's offers):
// the driver bound to the child reaches it with DriverContext::Connect, and
// clients with DriverManager.Bind on the child's path.
struct ProtocolOffer {
  std::string_view protocol;  // Protocol::kName
  void* impl;                 // A Protocol*, valid until the child is removed
};

// A child node to add under the driver's node.
struct ChildArgs {
  // Unique among the node's children; no '.'.
  std::string name;
  NodeProperties properties;
  // Protocols served for the child; each must be in the manifest's exposes.
  std::vector<ProtocolOffer> offers;

  // Offers `impl` (a typed protocol, e.g. BlockProtocol) on the child.
  template <typename Protocol>
  ChildArgs& Offer(Protocol& impl) {
    offers.push_back({Protocol::kName, static_cast<Protocol*>(&impl)});
    return *this;
  }
};

class DriverHostApi {
 public:
  virtual ~DriverHostApi() = default;

  virtual const StartArgs& start_args() const = 0;
  virtual UnownedDispatcher dispatcher() const = 0;
  virtual Runtime& runtime() const = 0;

  // Asks the manager to add a child node; `done` runs on the driver's
  // dispatcher with the child's path or the manager's error.
  virtual void AddChild(ChildArgs args, std::move_only_function<void(Result<std::string>)> done) = 0;
  // Removes a child this driver added (and its subtree) and its offers.
  virtual void RemoveChild(std::string name, std::move_only_function<void(Result<void>)> done) = 0;
  // Acquires a wake lease from the manager's power governor.
  virtual void AcquireWakeLease(std::string name,
                                std::move_only_function<void(Result<WakeLease>)> done) = 0;
  // Arms a one-shot wake vector on `fd` (see DriverContext::ArmWakeVector).
  virtual Result<WakeVector> ArmWakeVector(int fd, short events, std::string reason,
                                           WakeHandler on_wake) = 0;
  // Tells the manager that a wake event happened in this driver.
  virtual void ReportWake(std::string reason) = 0;
  // Serves a protocol implementation; `impl` must stay valid until the
  // driver has stopped. Errors: kInvalidArgument for an unknown protocol or
  // one the manifest does not list in `exposes`; kAlreadyExists if served.
  virtual Result<void> ServeProtocol(std::string_view protocol, void* impl) = 0;
  // Connects to `protocol` as offered on this driver's node by the parent's
  // driver; `done` runs on the driver's dispatcher with a client of type
  // Protocol::Client. Errors: kNotFound if the node has no such offer,
  // kInvalidArgument for a protocol the host has no client for.
  virtual void Connect(std::string_view protocol,
                       std::move_only_function<void(Result<std::unique_ptr<ProtocolClient>>)> done) = 0;
  virtual void Log(LogLevel level, std::string_view message) = 0;
  // Hands `lease` over to a client's token (DriverContext::HandOffWakeLease).
  // Last, so that drivers built before it keep their vtable slots.
  virtual void HandOffWakeLease(WakeLease lease, std::string token,
                                std::move_only_function<void(Result<void>)> done) = 0;
};

}  // namespace trellis
