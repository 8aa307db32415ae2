#include "virtio/driver/backend_link.h"

#include <algorithm>
#include <cerrno>

namespace trellis::virtio {

Result<void> BackendLink::Connect() {
  TRELLIS_TRY(connect_());
  connected_ = true;
  backoff_ = kFirstBackoff;
  return Ok();
}

void BackendLink::Lost() {
  if (!connected_) return;  // Already dropped, a retry is on its way.
  connected_ = false;
  (void)dispatcher_.PostSystem([this, alive = alive_] {
    if (!*alive) return;
    drop_();
    ScheduleRetry();
  });
}

void BackendLink::Stop() {
  stopped_ = true;
  retry_ = Operation();
}

void BackendLink::ScheduleRetry() {
  if (stopped_) return;
  auto timer = reactor_.Timer(Clock::now() + backoff_,
                              [this, alive = alive_](Completion c) {
                                if (!*alive || c.result == -ECANCELED || stopped_ || connected_) {
                                  return;
                                }
                                if (!Connect()) ScheduleRetry();
                              },
                              {.dispatcher = dispatcher_, .system = true});
  backoff_ = std::min(backoff_ * 2, kMaxBackoff);
  if (timer) retry_ = std::move(*timer);
}

}  // namespace trellis::virtio
