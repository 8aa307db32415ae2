#include "runtime/host/console_service.h"

#include <algorithm>
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
// and the driver Read in progress (until it completes). `mu_` orders gRPC's
// threads and the driver's dispatcher.
//
// No input is lost to a reader that goes away: bytes the driver hands over
// after the client cancelled, or whose write failed, are returned through
// `stash` for the next reader, and the console is released to the next
// reader (`release`) only once no driver Read of this stream is left, so
// the stash is complete and in order when it starts.
class ReadPump : public std::enable_shared_from_this<ReadPump> {
 public:
  using Stash = std::function<void(std::string)>;

  // `limit`: bytes to send before finishing with OK; 0 for no limit.
  ReadPump(std::shared_ptr<DriverInstance> instance, std::string node_path, uint64_t limit,
           Stash stash, std::move_only_function<void()> release)
      : instance_(std::move(instance)),
        node_path_(std::move(node_path)),
        remaining_(limit),
        limited_(limit > 0),
        stash_(std::move(stash)),
        release_(std::move(release)) {}

  void Attach(grpc::ServerWriteReactor<ConsoleData>* reactor) TRELLIS_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    reactor_ = reactor;
  }
  // gRPC is done with the call (OnDone).
  void Detach() TRELLIS_EXCLUDES(mu_) {
    {
      MutexLock lock(mu_);
      reactor_ = nullptr;
      detached_ = true;
    }
    MaybeRelease();
  }

  // Starts the stream: `leftover` (a previous reader's) first, then input.
  void Start(std::string leftover) TRELLIS_EXCLUDES(mu_) {
    {
      // Tells a client waiting for it that the stream holds the console.
      MutexLock lock(mu_);
      if (reactor_ != nullptr) reactor_->StartSendInitialMetadata();
    }
    if (leftover.empty()) {
      Pull();
      return;
    }
    std::string rest;
    {
      MutexLock lock(mu_);
      if (limited_ && leftover.size() > remaining_) {
        rest = leftover.substr(remaining_);
        leftover.resize(remaining_);
      }
      if (reactor_ == nullptr || finished_) {
        rest = leftover + rest;
      } else {
        SendLocked(std::move(leftover));
      }
    }
    if (!rest.empty()) stash_(std::move(rest));
  }

  void WriteDone(bool ok) TRELLIS_EXCLUDES(mu_) {
    if (ok) {
      {
        MutexLock lock(mu_);
        if (limited_ && remaining_ == 0) {
          FinishLocked(grpc::Status::OK);
          return;
        }
      }
      Pull();
      return;
    }
    std::string unsent;
    {
      MutexLock lock(mu_);
      unsent = std::move(*out_.mutable_data());
      FinishLocked(grpc::Status::CANCELLED);
    }
    stash_(std::move(unsent));
  }

  // The client went away: cancel the driver Read in progress (its
  // completion finishes the call), or finish at the next Pull.
  void Cancel() TRELLIS_EXCLUDES(mu_) {
    {
      MutexLock lock(mu_);
      cancelled_ = true;
    }
    (void)instance_->dispatcher().Post([self = shared_from_this()] {
      if (auto* protocol = self->Protocol()) protocol->CancelRead();
    });
  }

 private:
  // Asks the driver for the next input, on its dispatcher.
  void Pull() TRELLIS_EXCLUDES(mu_) {
    {
      MutexLock lock(mu_);
      busy_ = true;
    }
    auto posted = instance_->dispatcher().Post([self = shared_from_this()] {
      auto* protocol = self->Protocol();
      bool stop = protocol == nullptr;
      if (!stop) {
        MutexLock lock(self->mu_);
        stop = self->cancelled_;
        if (stop) self->FinishLocked(grpc::Status::CANCELLED);
      }
      if (stop) {
        self->Idle();
        return;
      }
      size_t max = ConsoleService::kMaxChunk;
      {
        MutexLock lock(self->mu_);
        if (self->limited_) max = std::min<uint64_t>(max, self->remaining_);
      }
      protocol->Read(
          max, [self](Result<std::vector<std::byte>> input) { self->Deliver(std::move(input)); });
    });
    if (!posted) {
      Finish(StatusOf(ErrorCode::kUnavailable, "the driver stopped"));
      Idle();
    }
  }

  ConsoleProtocol* Protocol() {
    auto* protocol =
        static_cast<ConsoleProtocol*>(instance_->FindProtocol(node_path_, ConsoleProtocol::kName));
    if (protocol == nullptr) {
      Finish(StatusOf(ErrorCode::kUnavailable, "the driver no longer serves Console"));
    }
    return protocol;
  }

  void Deliver(Result<std::vector<std::byte>> input) TRELLIS_EXCLUDES(mu_) {
    std::string unsent;
    {
      MutexLock lock(mu_);
      if (!input) {
        FinishLocked(input.error().code() == ErrorCode::kCancelled ? grpc::Status::CANCELLED
                                                                   : ToStatus(input.error()));
      } else if (reactor_ == nullptr || finished_ || cancelled_) {
        unsent.assign(reinterpret_cast<const char*>(input->data()), input->size());
        FinishLocked(grpc::Status::CANCELLED);
      } else {
        SendLocked(std::string(reinterpret_cast<const char*>(input->data()), input->size()));
      }
    }
    if (!unsent.empty()) stash_(std::move(unsent));
    Idle();
  }

  // No driver Read of this stream is pending any more.
  void Idle() TRELLIS_EXCLUDES(mu_) {
    {
      MutexLock lock(mu_);
      busy_ = false;
    }
    MaybeRelease();
  }

  void MaybeRelease() TRELLIS_EXCLUDES(mu_) {
    {
      MutexLock lock(mu_);
      if (!detached_ || busy_ || released_) return;
      released_ = true;
    }
    release_();
  }

  void SendLocked(std::string bytes) TRELLIS_REQUIRES(mu_) {
    if (limited_) remaining_ -= std::min<uint64_t>(remaining_, bytes.size());
    out_.set_data(std::move(bytes));
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
  uint64_t remaining_ TRELLIS_GUARDED_BY(mu_);  // Of the limit.
  const bool limited_;
  const Stash stash_;
  std::move_only_function<void()> release_;
  Mutex mu_;
  grpc::ServerWriteReactor<ConsoleData>* reactor_ TRELLIS_GUARDED_BY(mu_) = nullptr;
  ConsoleData out_ TRELLIS_GUARDED_BY(mu_);  // The message being written.
  bool finished_ TRELLIS_GUARDED_BY(mu_) = false;
  bool cancelled_ TRELLIS_GUARDED_BY(mu_) = false;
  bool busy_ TRELLIS_GUARDED_BY(mu_) = false;  // A Pull posted or a driver Read pending.
  bool detached_ TRELLIS_GUARDED_BY(mu_) = false;
  bool released_ TRELLIS_GUARDED_BY(mu_) = false;
};

class ReadReactor final : public grpc::ServerWriteReactor<ConsoleData> {
 public:
  explicit ReadReactor(std::shared_ptr<ReadPump> pump) : pump_(std::move(pump)) {
    pump_->Attach(this);
  }
  void OnWriteDone(bool ok) override { pump_->WriteDone(ok); }
  void OnCancel() override { pump_->Cancel(); }
  void OnDone() override {
    pump_->Detach();
    delete this;
  }

 private:
  std::shared_ptr<ReadPump> pump_;
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
    grpc::CallbackServerContext* context, const console::v1::ConsoleReadRequest* request) {
  auto authorized = registry_->AuthorizeCall(TokenOf(context), ConsoleProtocol::kName, context->peer());
  if (!authorized) return new RefusedRead(ToStatus(authorized.error()));
  auto [grant, instance] = std::move(*authorized);
  std::string leftover;
  {
    MutexLock lock(readers_->mu);
    if (!readers_->reading.insert(grant.node_path).second) {
      return new RefusedRead(StatusOf(
          ErrorCode::kFailedPrecondition,
          "the console at " + grant.node_path + " is already being read by another stream"));
    }
    leftover = std::exchange(readers_->leftovers[grant.node_path], {});
  }
  const std::string path = grant.node_path;
  auto pump = std::make_shared<ReadPump>(
      std::move(instance), path, request->max_bytes(),
      [readers = readers_, path](std::string unsent) {
        MutexLock lock(readers->mu);
        readers->leftovers[path] += unsent;
      },
      [readers = readers_, path] {
        MutexLock lock(readers->mu);
        readers->reading.erase(path);
      });
  context->AddInitialMetadata(std::string(ConsoleService::kReaderMetadata), "1");
  auto* reactor = new ReadReactor(pump);
  pump->Start(std::move(leftover));
  return reactor;
}

}  // namespace trellis::host
