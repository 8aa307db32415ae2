// BackendLink: a virtio driver's connection to its vhost-user backend over
// time. The driver connects at Start; when the device reports the backend
// lost (hang-up, stall, broken ring) it calls Lost(), and the link lets go of
// the device — after the device's own handler has returned — and retries
// with backoff (100 ms doubling to 5 s, reset by a successful connect) until
// one works or the driver stops.
//
//   BackendLink link(reactor, dispatcher,
//                    /*connect=*/[this] { return ConnectDevice(); },  // stores it
//                    /*drop=*/[this] { device_.reset(); });
//
// Threading: made, used and destroyed on the driver's dispatcher; connect
// and drop run there, as system tasks (so the link works while the driver
// is suspended).
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include "runtime/dispatcher.h"
#include "runtime/error.h"
#include "runtime/operation.h"
#include "runtime/reactor.h"

namespace trellis::virtio {

class BackendLink {
 public:
  static constexpr std::chrono::milliseconds kFirstBackoff{100};
  static constexpr std::chrono::milliseconds kMaxBackoff{5000};

  BackendLink(Reactor& reactor, UnownedDispatcher dispatcher, std::function<Result<void>()> connect,
              std::function<void()> drop)
      : reactor_(reactor),
        dispatcher_(std::move(dispatcher)),
        connect_(std::move(connect)),
        drop_(std::move(drop)) {}
  ~BackendLink() { *alive_ = false; }
  BackendLink(const BackendLink&) = delete;
  BackendLink& operator=(const BackendLink&) = delete;

  // Connects now; on success the backoff starts over.
  Result<void> Connect();
  // The backend is gone: drop the device (in a task of its own) and retry.
  void Lost();
  // No more retries (the driver is stopping).
  void Stop();

 private:
  void ScheduleRetry();

  Reactor& reactor_;
  UnownedDispatcher dispatcher_;
  const std::function<Result<void>()> connect_;
  const std::function<void()> drop_;
  Operation retry_;
  std::chrono::milliseconds backoff_ = kFirstBackoff;
  bool stopped_ = false;
  bool connected_ = false;
  // False once destroyed, for tasks and timer completions already queued.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace trellis::virtio
