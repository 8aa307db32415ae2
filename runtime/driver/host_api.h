// DriverHostApi: what the driver host provides to one driver instance. Drivers
// use it through DriverContext; the host implements it (runtime/host/).
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "runtime/dispatcher.h"
#include "runtime/driver/properties.h"
#include "runtime/driver/start_args.h"
#include "runtime/driver/wake_lease.h"
#include "runtime/driver/wake_vector.h"
#include "runtime/error.h"

namespace trellis {

class Runtime;

enum class LogLevel { kDebug, kInfo, kWarning, kError };

// A child node to add under the driver's node.
struct ChildArgs {
  // Unique among the node's children; no '.'.
  std::string name;
  NodeProperties properties;
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
  // Removes a child this driver added (and its subtree).
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
  virtual void Log(LogLevel level, std::string_view message) = 0;
};

}  // namespace trellis
