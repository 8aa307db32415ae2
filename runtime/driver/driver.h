// Driver: the base class of every driver, after Fuchsia's
// fdf_component::Driver (seed 000). The contract:
//
//  - The host constructs the driver with its DriverContext, then calls
//    Start() on the driver's dispatcher. Start completes OK once the driver is
//    ready (children added, protocols served) or with an error, after which
//    the driver is destroyed without Stop.
//  - Stopping has two phases, after Fuchsia's: PrepareStop() runs first on
//    the dispatcher — stop taking new work, finish or fail what is in flight
//    — then Stop() — release what is left; the driver is destroyed after it
//    completes and its dispatchers have drained. The manager stops a node's
//    children before it, and kills the host of a driver that misses the
//    stop deadline (manifest stop_timeout_ms). If the driver is suspended at
//    that time, SystemResume runs first.
//  - SystemSuspend() runs only if the manifest sets
//    power.managed_dispatchers, and only after the runtime has stopped
//    starting the driver's tasks and the running one has returned (new tasks
//    queue). Put the hardware into a low-power state.
//  - SystemResume(lease) runs before any queued task; then the wake vector's
//    task (if a wake vector of this driver fired) runs first. `lease` is set
//    when this driver's wake vector woke the system; keep it to stay awake.
//
// Every hook takes a Completer: complete now or later, from any thread. A
// completer dropped without being called fails the call.
#pragma once

#include <optional>

#include "runtime/driver/completer.h"
#include "runtime/driver/driver_context.h"
#include "runtime/driver/wake_lease.h"
#include "runtime/error.h"

namespace trellis {

using StartCompleter = Completer<Result<void>>;
using PrepareStopCompleter = Completer<void>;
using StopCompleter = Completer<void>;
using SuspendCompleter = Completer<Result<void>>;
using ResumeCompleter = Completer<Result<void>>;

class Driver {
 public:
  explicit Driver(DriverContext context) : context_(context) {}
  virtual ~Driver() = default;
  Driver(const Driver&) = delete;
  Driver& operator=(const Driver&) = delete;

  virtual void Start(StartCompleter completer) { completer(Ok()); }
  virtual void PrepareStop(PrepareStopCompleter completer) { completer(); }
  virtual void Stop(StopCompleter completer) { completer(); }
  virtual void SystemSuspend(SuspendCompleter completer) { completer(Ok()); }
  virtual void SystemResume(std::optional<WakeLease> lease, ResumeCompleter completer) {
    (void)lease;
    completer(Ok());
  }

  const DriverContext& context() const { return context_; }

 private:
  DriverContext context_;
};

}  // namespace trellis
