// WakeVector: an fd whose readiness wakes the system, for drivers whose
// manifest sets power.wake_capable (see DriverContext::ArmWakeVector).
// One-shot: once it has fired, re-arm from the wake handler. Destroying or
// Disarm()-ing it before it fires cancels it; the handler then never runs.
#pragma once

#include <functional>

#include "runtime/operation.h"

namespace trellis {

// Runs on the driver's dispatcher with the poll revents of the fd.
using WakeHandler = std::move_only_function<void(int revents)>;

class WakeVector {
 public:
  WakeVector() = default;
  explicit WakeVector(Operation watch) : watch_(std::move(watch)) {}

  // True until the fd has fired (or the vector was disarmed).
  bool armed() const { return watch_.pending(); }
  void Disarm() { watch_ = Operation(); }

 private:
  Operation watch_;
};

}  // namespace trellis
