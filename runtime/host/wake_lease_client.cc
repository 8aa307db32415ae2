#include "runtime/host/wake_lease_client.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>

#include "runtime/mutex.h"
#include "runtime/rpc/async_call.h"
#include "runtime/rpc/status.h"

namespace trellis::host {

namespace {

using power::v1::WakeLeaseEvent;

// One AcquireWakeLease stream. Keeps itself alive until gRPC's OnDone; the
// lease's holder keeps it alive for as long as the driver holds the lease.
class LeaseStream final : public grpc::ClientReadReactor<WakeLeaseEvent>,
                          public std::enable_shared_from_this<LeaseStream> {
 public:
  LeaseStream(std::string name, std::move_only_function<void(Result<WakeLease>)> granted)
      : name_(std::move(name)), granted_(std::move(granted)) {}

  void Start(node::v1::NodeChannel::Stub* stub, std::string node_token) {
    request_.set_node_token(std::move(node_token));
    request_.set_name(name_);
    self_ = shared_from_this();
    stub->async()->AcquireWakeLease(&context_, &request_, this);
    StartRead(&event_);
    StartCall();
  }

  // Closes the stream: the manager releases the lease. Any thread.
  void Release() { context_.TryCancel(); }
  const std::string& name() const { return name_; }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // The stream ended; OnDone follows.
    if (event_.has_granted()) {
      auto granted = TakeGranted();
      if (granted) granted(WakeLease(std::make_unique<Holder>(shared_from_this(),
                                                              event_.granted().lease_id())));
    }
    // A `revoked` event ends the lease; the stream closes right after it.
    StartRead(&event_);
  }

  void OnDone(const grpc::Status& status) override {
    if (auto granted = TakeGranted()) {
      granted(Fail(rpc::FromStatus(status.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                                              "the lease stream ended")
                                               : status,
                                   "NodeChannel.AcquireWakeLease(" + name_ + ")")));
    }
    auto last = std::move(self_);  // May destroy this at the end of scope.
  }

 private:
  class Holder final : public WakeLease::Holder {
   public:
    Holder(std::shared_ptr<LeaseStream> stream, uint64_t id) : stream_(std::move(stream)), id_(id) {}
    ~Holder() override { stream_->Release(); }
    uint64_t id() const override { return id_; }
    std::string_view name() const override { return stream_->name(); }

   private:
    std::shared_ptr<LeaseStream> stream_;
    uint64_t id_;
  };

  std::move_only_function<void(Result<WakeLease>)> TakeGranted() {
    MutexLock lock(mu_);
    return std::move(granted_);
  }

  const std::string name_;
  grpc::ClientContext context_;
  node::v1::WakeLeaseRequest request_;
  WakeLeaseEvent event_;  // Touched only by the reactor's read callbacks.
  Mutex mu_;
  std::move_only_function<void(Result<WakeLease>)> granted_ TRELLIS_GUARDED_BY(mu_);
  std::shared_ptr<LeaseStream> self_;  // Set in Start, dropped in OnDone.
};

class ManagerLeaseHolder final : public WakeLease::Holder {
 public:
  ManagerLeaseHolder(node::v1::NodeChannel::Stub* stub, std::string node_token, uint64_t id,
                     std::string name)
      : stub_(stub), node_token_(std::move(node_token)), id_(id), name_(std::move(name)) {}
  ~ManagerLeaseHolder() override {
    node::v1::DropWakeLeaseRequest request;
    request.set_node_token(node_token_);
    request.set_lease_id(id_);
    auto* stub = stub_;
    // Fire and forget: a failure means the manager (and the lease) is gone.
    rpc::CallAsync<node::v1::DropWakeLeaseRequest, node::v1::DropWakeLeaseResponse>(
        std::chrono::seconds(10), std::move(request),
        [stub](auto* ctx, auto* req, auto* resp, auto cb) {
          stub->async()->DropWakeLease(ctx, req, resp, std::move(cb));
        },
        [](grpc::Status, node::v1::DropWakeLeaseResponse) {});
  }
  uint64_t id() const override { return id_; }
  std::string_view name() const override { return name_; }

 private:
  node::v1::NodeChannel::Stub* stub_;
  std::string node_token_;
  uint64_t id_;
  std::string name_;
};

}  // namespace

void AcquireNodeLease(node::v1::NodeChannel::Stub* stub, std::string node_token, std::string name,
                      std::move_only_function<void(Result<WakeLease>)> granted) {
  auto stream = std::make_shared<LeaseStream>(std::move(name), std::move(granted));
  stream->Start(stub, std::move(node_token));
}

WakeLease AdoptManagerLease(node::v1::NodeChannel::Stub* stub, std::string node_token,
                            uint64_t lease_id, std::string name) {
  return WakeLease(
      std::make_unique<ManagerLeaseHolder>(stub, std::move(node_token), lease_id, std::move(name)));
}

}  // namespace trellis::host
