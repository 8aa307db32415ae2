#include "runtime/host/console_service.h"

#include <memory>

#include "runtime/driver/console_protocol.h"
#include "runtime/host/client_token.h"
#include "runtime/host/serving_call.h"
#include "runtime/rpc/finisher.h"
#include "runtime/rpc/status.h"

namespace trellis::host {

namespace {

using console::v1::ConsoleData;
using rpc::StatusOf;
using rpc::ToStatus;

// The state of one Read stream, shared by its gRPC reactor (until OnDone)
// and the driver Read in progress (until it completes). The reactor pointer
// is null once gRPC is done with the call; `mu_` orders gRPC's threads and
// the driver's dispatcher.
class ReadPump : public std::enable_shared_from_this<ReadPump> {
 public:
  ReadPump(std::shared_ptr<DriverInstance> instance, std::string node_path)
      : instance_(std::move(instance)), node_path_(std::move(node_path)) {}

  void Attach(grpc::ServerWriteReactor<ConsoleData>* reactor) TRELLIS_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    reactor_ = reactor;
  }
  void Detach() TRELLIS_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    reactor_ = nullptr;
  }

  // Asks the driver for the next input, on its dispatcher.
  void Pull() {
    auto posted = instance_->dispatcher().Post([self = shared_from_this()] {
      auto* protocol = self->Protocol();
      if (protocol == nullptr) return;
      {
        MutexLock lock(self->mu_);
        if (self->cancelled_) {
          self->FinishLocked(grpc::Status::CANCELLED);
          return;
        }
      }
      protocol->Read(ConsoleService::kMaxChunk, [self](Result<std::vector<std::byte>> input) {
        self->Deliver(std::move(input));
      });
    });
    if (!posted) Finish(StatusOf(ErrorCode::kUnavailable, "the driver stopped"));
  }

  void WriteDone(bool ok) {
    if (ok) {
      Pull();
    } else {
      Finish(grpc::Status::CANCELLED);
    }
  }

  // The client went away: cancel the driver Read in progress (its
  // completion finishes the call), or finish at the next Pull.
  void Cancel() {
    {
      MutexLock lock(mu_);
      cancelled_ = true;
    }
    (void)instance_->dispatcher().Post([self = shared_from_this()] {
      if (auto* protocol = self->Protocol()) protocol->CancelRead();
    });
  }

 private:
  ConsoleProtocol* Protocol() {
    auto* protocol =
        static_cast<ConsoleProtocol*>(instance_->FindProtocol(node_path_, ConsoleProtocol::kName));
    if (protocol == nullptr) {
      Finish(StatusOf(ErrorCode::kUnavailable, "the driver no longer serves Console"));
    }
    return protocol;
  }

  void Deliver(Result<std::vector<std::byte>> input) TRELLIS_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    if (!input) {
      FinishLocked(input.error().code() == ErrorCode::kCancelled ? grpc::Status::CANCELLED
                                                                 : ToStatus(input.error()));
      return;
    }
    if (reactor_ == nullptr || finished_) return;
    out_.set_data(reinterpret_cast<const char*>(input->data()), input->size());
    reactor_->StartWrite(&out_);
  }

  void Finish(const grpc::Status& status) TRELLIS_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    FinishLocked(status);
  }
  void FinishLocked(const grpc::Status& status) TRELLIS_REQUIRES(mu_) {
    if (reactor_ == nullptr || finished_) return;
    finished_ = true;
    reactor_->Finish(status);
  }

  const std::shared_ptr<DriverInstance> instance_;
  const std::string node_path_;
  Mutex mu_;
  grpc::ServerWriteReactor<ConsoleData>* reactor_ TRELLIS_GUARDED_BY(mu_) = nullptr;
  ConsoleData out_ TRELLIS_GUARDED_BY(mu_);  // The message being written.
  bool finished_ TRELLIS_GUARDED_BY(mu_) = false;
  bool cancelled_ TRELLIS_GUARDED_BY(mu_) = false;
};

class ReadReactor final : public grpc::ServerWriteReactor<ConsoleData> {
 public:
  ReadReactor(std::shared_ptr<ReadPump> pump, std::move_only_function<void()> on_done)
      : pump_(std::move(pump)), on_done_(std::move(on_done)) {
    pump_->Attach(this);
  }
  void OnWriteDone(bool ok) override { pump_->WriteDone(ok); }
  void OnCancel() override { pump_->Cancel(); }
  void OnDone() override {
    pump_->Detach();
    if (on_done_) on_done_();
    delete this;
  }

 private:
  std::shared_ptr<ReadPump> pump_;
  std::move_only_function<void()> on_done_;
};

// A reactor that only finishes with `status`.
class RefusedRead final : public grpc::ServerWriteReactor<ConsoleData> {
 public:
  explicit RefusedRead(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerUnaryReactor* ConsoleService::Write(grpc::CallbackServerContext* context,
                                                const console::v1::ConsoleWriteRequest* request,
                                                console::v1::ConsoleWriteResponse* response) {
  const size_t size = request->data().size();
  if (size == 0 || size > ConsoleProtocol::kMaxWrite) {
    auto* reactor = context->DefaultReactor();
    reactor->Finish(StatusOf(ErrorCode::kInvalidArgument,
                             "a write of " + std::to_string(size) + " bytes; it must be 1.." +
                                 std::to_string(ConsoleProtocol::kMaxWrite)));
    return reactor;
  }
  const auto* bytes = reinterpret_cast<const std::byte*>(request->data().data());
  return OnServingDriver<ConsoleProtocol>(
      *registry_, context,
      [data = std::vector<std::byte>(bytes, bytes + size), response](
          ConsoleProtocol& protocol, const Caller&, rpc::UnaryFinisher finisher) mutable {
        const size_t size = data.size();
        protocol.Write(std::move(data),
                       [size, response, finisher = std::move(finisher)](Result<void> done) mutable {
                         if (done) response->set_written(size);
                         finisher.Finish(ToStatus(done));
                       });
      });
}

grpc::ServerWriteReactor<ConsoleData>* ConsoleService::Read(
    grpc::CallbackServerContext* context, const console::v1::ConsoleReadRequest*) {
  auto authorized = registry_->Authorize(TokenOf(context), ConsoleProtocol::kName);
  if (!authorized) return new RefusedRead(ToStatus(authorized.error()));
  auto [grant, instance] = std::move(*authorized);
  {
    MutexLock lock(mu_);
    if (!reading_.insert(grant.node_path).second) {
      return new RefusedRead(StatusOf(
          ErrorCode::kFailedPrecondition,
          "the console at " + grant.node_path + " is already being read by another stream"));
    }
  }
  auto pump = std::make_shared<ReadPump>(std::move(instance), grant.node_path);
  auto* reactor = new ReadReactor(pump, [this, path = grant.node_path] {
    MutexLock lock(mu_);
    reading_.erase(path);
  });
  pump->Pull();
  return reactor;
}

}  // namespace trellis::host
