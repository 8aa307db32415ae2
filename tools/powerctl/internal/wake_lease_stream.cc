// WakeLeaseStream: a synchronous ClientReader on a thread, handing events
// over through a queue and an eventfd.
#include "tools/powerctl/internal/wake_lease_stream.h"

#include <google/protobuf/util/time_util.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

namespace trellis::powerctl::internal {

Result<std::unique_ptr<WakeLeaseStream>> WakeLeaseStream::Open(
    power::v1::Power::Stub& stub, power::v1::AcquireWakeLeaseRequest request) {
  UniqueFd ready(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE));
  if (!ready.valid()) return FailErrno(errno, "eventfd");
  std::unique_ptr<WakeLeaseStream> stream(new WakeLeaseStream(std::move(ready)));
  stream->reader_ = std::thread([stream = stream.get(), &stub, request = std::move(request)] {
    stream->Read(stub, request);
  });
  return stream;
}

WakeLeaseStream::~WakeLeaseStream() { Close(); }

void WakeLeaseStream::Read(power::v1::Power::Stub& stub,
                           power::v1::AcquireWakeLeaseRequest request) {
  std::unique_ptr<grpc::ClientReader<power::v1::WakeLeaseEvent>> reader =
      stub.AcquireWakeLease(&context_, request);
  power::v1::WakeLeaseEvent event;
  while (reader->Read(&event)) {
    switch (event.event_case()) {
      case power::v1::WakeLeaseEvent::kGranted:
        Push(Granted{.lease_id = event.granted().lease_id()});
        break;
      case power::v1::WakeLeaseEvent::kRevoked:
        Push(Revoked{.lease_id = event.revoked().lease_id(), .reason = event.revoked().reason()});
        break;
      case power::v1::WakeLeaseEvent::kReleaseRequested:
        Push(ReleaseRequested{
            .lease_id = event.release_requested().lease_id(),
            .revoke_in = std::chrono::milliseconds(google::protobuf::util::TimeUtil::DurationToMilliseconds(
                event.release_requested().revoke_in()))});
        break;
      case power::v1::WakeLeaseEvent::EVENT_NOT_SET:
        break;  // From a newer manager; nothing we know to do.
    }
  }
  Push(Ended{.status = reader->Finish()});
}

void WakeLeaseStream::Push(Event event) {
  {
    MutexLock lock(mutex_);
    events_.push_back(std::move(event));
  }
  uint64_t one = 1;
  ssize_t written = write(ready_.get(), &one, sizeof one);
  (void)written;  // Cannot overflow: at most a few events per stream.
}

std::optional<WakeLeaseStream::Event> WakeLeaseStream::TryTakeEvent() {
  uint64_t count = 0;
  if (read(ready_.get(), &count, sizeof count) != static_cast<ssize_t>(sizeof count)) {
    return std::nullopt;
  }
  MutexLock lock(mutex_);
  Event event = std::move(events_.front());
  events_.pop_front();
  return event;
}

void WakeLeaseStream::Close() {
  if (!reader_.joinable()) return;
  context_.TryCancel();
  reader_.join();
}

}  // namespace trellis::powerctl::internal
