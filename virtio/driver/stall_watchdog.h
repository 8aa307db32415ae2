// StallWatchdog: notices a device that holds a request too long. Every
// timeout/2 it asks `oldest` when the oldest request in the device was
// added; older than `timeout` means the backend stalled, and `on_stall`
// runs once (the driver fails its requests and reconnects).
//
// Threading: made, used and destroyed on the driver's dispatcher; the checks
// run there as system tasks (a suspended driver's requests are watched too).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "runtime/dispatcher.h"
#include "runtime/operation.h"
#include "runtime/reactor.h"

namespace trellis::virtio {

class StallWatchdog {
 public:
  using Oldest = std::function<std::optional<Clock::time_point>()>;
  using OnStall = std::function<void(const std::string& reason)>;

  StallWatchdog(Reactor& reactor, UnownedDispatcher dispatcher, std::chrono::milliseconds timeout,
                Oldest oldest, OnStall on_stall);
  ~StallWatchdog() { *alive_ = false; }
  StallWatchdog(const StallWatchdog&) = delete;
  StallWatchdog& operator=(const StallWatchdog&) = delete;

 private:
  void Arm();

  Reactor& reactor_;
  UnownedDispatcher dispatcher_;
  const std::chrono::milliseconds timeout_;
  const Oldest oldest_;
  const OnStall on_stall_;
  Operation timer_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace trellis::virtio
