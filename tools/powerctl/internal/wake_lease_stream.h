// WakeLeaseStream: one Power.AcquireWakeLease call, read on its own thread
// and delivered as events through a file descriptor, so `powerctl lease`
// can wait for it, its command and signals in one poll().
//
// The manager holds the lease for exactly as long as the call is open;
// Close() (or dropping the stream) cancels the call and so releases it.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <variant>

#include "runtime/error.h"
#include "runtime/mutex.h"
#include "runtime/unique_fd.h"
#include "trellis/power/v1/power.grpc.pb.h"

namespace trellis::powerctl::internal {

class WakeLeaseStream {
 public:
  // The lease is held from now on.
  struct Granted {
    uint64_t lease_id = 0;
  };
  // The manager dropped the lease; Ended follows.
  struct Revoked {
    uint64_t lease_id = 0;
    std::string reason;
  };
  // The lease's budget is about to run out: it is revoked in `revoke_in`.
  struct ReleaseRequested {
    uint64_t lease_id = 0;
    std::chrono::milliseconds revoke_in{0};
  };
  // The call is over, with this status (CANCELLED after Close). Always the
  // last event.
  struct Ended {
    grpc::Status status;
  };
  using Event = std::variant<Granted, Revoked, ReleaseRequested, Ended>;

  // Starts Power.AcquireWakeLease(request) on `stub`, which must outlive the
  // stream, and a thread that reads it. Does not wait for the manager.
  // Errors: from eventfd.
  [[nodiscard]] static Result<std::unique_ptr<WakeLeaseStream>> Open(
      power::v1::Power::Stub& stub, power::v1::AcquireWakeLeaseRequest request);

  WakeLeaseStream(const WakeLeaseStream&) = delete;
  WakeLeaseStream& operator=(const WakeLeaseStream&) = delete;
  // Close()s.
  ~WakeLeaseStream();

  // Readable while TryTakeEvent has an event.
  int fd() const { return ready_.get(); }

  // The next event, in the order the reader saw them, or nullopt. Never
  // blocks.
  std::optional<Event> TryTakeEvent();

  // Cancels the call (releasing the lease) and waits for the reader thread
  // to finish. Idempotent. Call from the thread that opened the stream.
  void Close();

 private:
  explicit WakeLeaseStream(UniqueFd ready) : ready_(std::move(ready)) {}

  // The reader thread: reads events until the call ends.
  void Read(power::v1::Power::Stub& stub, power::v1::AcquireWakeLeaseRequest request);
  void Push(Event event);

  grpc::ClientContext context_;
  // An eventfd in semaphore mode: one count per queued event.
  UniqueFd ready_;
  Mutex mutex_;
  std::deque<Event> events_ TRELLIS_GUARDED_BY(mutex_);
  std::thread reader_;
};

}  // namespace trellis::powerctl::internal
