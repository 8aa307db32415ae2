// ServerStream<T>: the write side of a server-streaming call on gRPC's
// callback API, shareable with whoever produces the messages.
//
// Send() queues and writes one message at a time; it never blocks and fails
// once the stream has ended. A client that stops reading while
// `max_pending` messages wait gets RESOURCE_EXHAUSTED on that stream only.
// The stream object outlives the gRPC reactor; after the call is done every
// method is a harmless no-op.
#pragma once

#include <grpcpp/grpcpp.h>

#include <deque>
#include <optional>
#include <functional>
#include <memory>
#include <string>

#include "runtime/mutex.h"

namespace trellis::rpc {

template <typename T>
class ServerStream {
 public:
  explicit ServerStream(size_t max_pending) : max_pending_(max_pending) {}

  // Queues `message`; false once the stream has ended.
  bool Send(T message) TRELLIS_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    if (reactor_ == nullptr || finished_ || close_status_) return false;
    if (pending_.size() >= max_pending_) {
      FinishLocked(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                "client is not reading: " + std::to_string(max_pending_) +
                                    " messages are pending"));
      return false;
    }
    pending_.push_back(std::move(message));
    if (!writing_) {
      writing_ = true;
      metadata_sent_ = true;  // The first write carries it.
      reactor_->StartWrite(&pending_.front());
    }
    return true;
  }

  // Ends the stream with `status` now (once; later calls are ignored):
  // messages still queued are dropped.
  void Finish(const grpc::Status& status) TRELLIS_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    FinishLocked(status);
  }

  // Ends the stream with `status` once every queued message is written;
  // Send fails from now on.
  void Close(const grpc::Status& status) TRELLIS_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    if (reactor_ == nullptr || finished_ || close_status_) return;
    if (!writing_) {
      FinishLocked(status);
      return;
    }
    close_status_ = status;
  }

  // Sends the initial metadata now. Lets a client that waits for it
  // (ClientReader::WaitForInitialMetadata) know the server has set the
  // stream up. A no-op once sent, by this or by a Send (gRPC aborts the
  // process on a second StartSendInitialMetadata).
  void SendInitialMetadata() TRELLIS_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    if (reactor_ == nullptr || finished_ || metadata_sent_) return;
    metadata_sent_ = true;
    reactor_->StartSendInitialMetadata();
  }

  // Runs `fn` once the call is over — the client cancelled or went away, or
  // the stream was finished — on a gRPC thread; at once if it already is.
  void OnClosed(std::move_only_function<void()> fn) TRELLIS_EXCLUDES(mu_) {
    {
      MutexLock lock(mu_);
      if (!closed_) {
        on_closed_ = std::move(fn);
        return;
      }
    }
    fn();
  }
  bool active() const TRELLIS_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    return reactor_ != nullptr && !finished_;
  }

  // Creates the reactor for a new call; return it from the service method.
  static std::pair<grpc::ServerWriteReactor<T>*, std::shared_ptr<ServerStream>> Create(
      size_t max_pending = 1024) {
    auto stream = std::make_shared<ServerStream>(max_pending);
    auto* reactor = new Reactor(stream);
    {
      MutexLock lock(stream->mu_);
      stream->reactor_ = reactor;
    }
    return {reactor, stream};
  }

 private:
  class Reactor final : public grpc::ServerWriteReactor<T> {
   public:
    explicit Reactor(std::shared_ptr<ServerStream> stream) : stream_(std::move(stream)) {}
    void OnWriteDone(bool ok) override { stream_->WriteDone(ok); }
    void OnCancel() override { stream_->Finish(grpc::Status::CANCELLED); }
    void OnDone() override {
      stream_->Detach();
      delete this;
    }

   private:
    std::shared_ptr<ServerStream> stream_;
  };

  void WriteDone(bool ok) TRELLIS_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    pending_.pop_front();
    if (!ok || reactor_ == nullptr || finished_ || pending_.empty()) {
      writing_ = false;  // No write may start after Finish.
      if (close_status_ && !finished_) FinishLocked(*close_status_);
      return;
    }
    reactor_->StartWrite(&pending_.front());
  }

  void FinishLocked(const grpc::Status& status) TRELLIS_REQUIRES(mu_) {
    if (reactor_ == nullptr || finished_) return;
    finished_ = true;
    reactor_->Finish(status);
  }

  void Detach() TRELLIS_EXCLUDES(mu_) {
    std::move_only_function<void()> on_closed;
    {
      MutexLock lock(mu_);
      reactor_ = nullptr;
      closed_ = true;
      on_closed = std::move(on_closed_);
    }
    if (on_closed) on_closed();
  }

  const size_t max_pending_;
  mutable Mutex mu_;
  grpc::ServerWriteReactor<T>* reactor_ TRELLIS_GUARDED_BY(mu_) = nullptr;
  std::deque<T> pending_ TRELLIS_GUARDED_BY(mu_);
  bool writing_ TRELLIS_GUARDED_BY(mu_) = false;
  bool metadata_sent_ TRELLIS_GUARDED_BY(mu_) = false;
  bool finished_ TRELLIS_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> close_status_ TRELLIS_GUARDED_BY(mu_);  // Close() waiting.
  bool closed_ TRELLIS_GUARDED_BY(mu_) = false;
  std::move_only_function<void()> on_closed_ TRELLIS_GUARDED_BY(mu_);
};

}  // namespace trellis::rpc
