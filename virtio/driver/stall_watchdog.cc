#include "virtio/driver/stall_watchdog.h"

#include <cerrno>

namespace trellis::virtio {

StallWatchdog::StallWatchdog(Reactor& reactor, UnownedDispatcher dispatcher,
                             std::chrono::milliseconds timeout, Oldest oldest, OnStall on_stall)
    : reactor_(reactor),
      dispatcher_(std::move(dispatcher)),
      timeout_(timeout),
      oldest_(std::move(oldest)),
      on_stall_(std::move(on_stall)) {
  Arm();
}

void StallWatchdog::Arm() {
  auto timer = reactor_.Timer(
      Clock::now() + timeout_ / 2,
      [this, alive = alive_](Completion c) {
        if (!*alive || c.result == -ECANCELED) return;
        auto oldest = oldest_();
        if (oldest && Clock::now() - *oldest > timeout_) {
          on_stall_("a request got no answer within " + std::to_string(timeout_.count()) + " ms");
          return;
        }
        Arm();
      },
      {.dispatcher = dispatcher_, .system = true});
  if (timer) timer_ = std::move(*timer);
}

}  // namespace trellis::virtio
