#include "runtime/host/device_service.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <deque>
#include <optional>

#include "runtime/host/client_token.h"
#include "runtime/rpc/finisher.h"
#include "runtime/rpc/server_stream.h"
#include "runtime/rpc/status.h"

namespace trellis::host {

namespace {

using device::v1::Upcall;
using rpc::StatusOf;
using rpc::ToStatus;

// Upcalls queued for a client that does not read; past this the stream ends.
constexpr size_t kMaxPendingUpcalls = 1024;

// The grant and driver instance the call's token names for Device; nullopt
// after answering `sink` (a UnaryFinisher or an UpcallStream) with why not.
template <typename Sink>
std::optional<std::pair<Grant, std::shared_ptr<DriverInstance>>> AuthorizeOr(
    const HostRegistry& registry, const grpc::CallbackServerContext* context, Sink& sink) {
  auto authorized = registry.AuthorizeCall(TokenOf(context), DeviceProtocol::kName, context->peer());
  if (!authorized) {
    sink.Finish(ToStatus(authorized.error()));
    return std::nullopt;
  }
  return std::move(*authorized);
}

// The Device implementation the instance serves; null after answering
// `sink` (a UnaryFinisher or an UpcallStream) with UNAVAILABLE.
template <typename Sink>
DeviceProtocol* DeviceOrUnavailable(const DriverInstance& instance, Sink& sink) {
  auto* protocol = static_cast<DeviceProtocol*>(
      instance.FindProtocol(instance.node_path(), DeviceProtocol::kName));
  if (protocol == nullptr) {
    sink.Finish(StatusOf(ErrorCode::kUnavailable, "the driver no longer serves Device"));
  }
  return protocol;
}

}  // namespace

// Adapts a ServerStream of Upcall messages to the driver SDK's Upcall::Sink.
class UpcallStream final : public trellis::Upcall::Sink {
 public:
  UpcallStream(std::shared_ptr<rpc::ServerStream<Upcall>> stream, uint32_t minor)
      : stream_(std::move(stream)), minor_(minor) {}

  bool Send(uint64_t arg0, uint64_t arg1, uint64_t arg2) override {
    Upcall upcall;
    upcall.set_minor_num(minor_);
    upcall.set_arg0(arg0);
    upcall.set_arg1(arg1);
    upcall.set_arg2(arg2);
    return stream_->Send(std::move(upcall));
  }
  bool active() const override { return stream_->active(); }
  void Finish(const grpc::Status& status) { stream_->Finish(status); }
  void SendInitialMetadata() { stream_->SendInitialMetadata(); }

 private:
  std::shared_ptr<rpc::ServerStream<Upcall>> stream_;
  const uint32_t minor_;
};

grpc::ServerUnaryReactor* DeviceService::Command(grpc::CallbackServerContext* context,
                                                 const device::v1::CommandRequest* request,
                                                 device::v1::CommandResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  rpc::UnaryFinisher finisher(reactor, "the driver stopped");
  auto authorized = AuthorizeOr(*registry_, context, finisher);
  if (!authorized) return reactor;
  auto [grant, instance] = std::move(*authorized);
  auto posted = instance->dispatcher().Post([finisher = std::move(finisher), instance,
                                             caller = grant.caller, request, response]() mutable {
    auto* protocol = DeviceOrUnavailable(*instance, finisher);
    if (protocol == nullptr) return;
    auto value = protocol->Command(caller, request->minor_num(), request->arg1(), request->arg2());
    if (!value) {
      finisher.Finish(ToStatus(value.error()));
      return;
    }
    response->set_value(*value);
    finisher.Finish(grpc::Status::OK);
  });
  (void)posted;  // On failure the task, and with it the finisher, was dropped: UNAVAILABLE.
  return reactor;
}

grpc::ServerWriteReactor<Upcall>* DeviceService::Subscribe(
    grpc::CallbackServerContext* context, const device::v1::SubscribeRequest* request) {
  auto [reactor, writer] = rpc::ServerStream<Upcall>::Create(kMaxPendingUpcalls);
  auto stream = std::make_shared<UpcallStream>(writer, request->minor_num());
  auto authorized = AuthorizeOr(*registry_, context, *stream);
  if (!authorized) return reactor;
  auto [grant, instance] = std::move(*authorized);
  // End the client's previous subscription to this minor first.
  SubscriptionKey key{grant.caller.client_id, grant.node_path, request->minor_num()};
  std::shared_ptr<UpcallStream> previous;
  {
    MutexLock lock(mu_);
    std::erase_if(subscriptions_, [](const auto& entry) {
      auto stream = entry.second.stream.lock();
      return stream == nullptr || !stream->active();
    });
    const pid_t pid = grant.caller.pid;
    const size_t held = std::ranges::count_if(subscriptions_, [&](const auto& entry) {
      return entry.second.pid == pid && entry.first != key;
    });
    if (held >= kMaxSubscriptionsPerProcess) {
      stream->Finish(StatusOf(ErrorCode::kResourceExhausted,
                              "process " + std::to_string(pid) + " already holds " +
                                  std::to_string(held) + " subscriptions on this host, the most " +
                                  "one process may; cancel some first"));
      return reactor;
    }
    auto& entry = subscriptions_[key];
    previous = entry.stream.lock();
    entry = Subscription{.stream = stream, .pid = pid};
  }
  // The previous stream ends only after the driver holds the new one: a
  // client that sees it end and sends a command must find its upcalls on the
  // new stream (both tasks run in order on the driver's dispatcher).
  auto end_previous = [previous = std::move(previous), minor = request->minor_num()] {
    if (previous) {
      previous->Finish(StatusOf(ErrorCode::kAborted,
                                "replaced by a newer Subscribe to minor " + std::to_string(minor)));
    }
  };
  uint32_t minor = request->minor_num();
  auto posted =
      instance->dispatcher().Post([stream, instance, caller = grant.caller, minor, end_previous] {
        auto* protocol = DeviceOrUnavailable(*instance, *stream);
        if (protocol != nullptr) {
          // The client may wait for this: commands it sends after it run
          // after this task, so their upcalls find the subscription.
          stream->SendInitialMetadata();
          auto subscribed = protocol->Subscribe(caller, minor, trellis::Upcall(stream));
          if (!subscribed) stream->Finish(ToStatus(subscribed.error()));
        }
        end_previous();
      });
  if (!posted) {
    stream->Finish(StatusOf(ErrorCode::kUnavailable, "the driver stopped"));
    end_previous();
  }
  return reactor;
}

DeviceService::DeviceService(HostRegistry* registry) : registry_(registry) {
  auto watch = ClientWatch::Start([this](uint64_t client_id) { allows_.Release(client_id); });
  if (watch) {
    watch_ = std::move(*watch);
  } else {
    std::fprintf(stderr, "trellis-host: cannot watch client processes: %s\n",
                 watch.error().ToString().c_str());
  }
  registry_->SetGrantObserver(
      [this](const Grant& grant) { allows_.Release(grant.caller.client_id, grant.node_path); });
}

DeviceService::~DeviceService() {
  registry_->SetGrantObserver(nullptr);
  watch_.reset();
}

Result<AllowedBuffer> DeviceService::BufferOf(const std::string& token,
                                              const device::v1::AllowRequest& request) {
  const bool read_only = request.read_only();
  if (request.source_case() == device::v1::AllowRequest::kShm) {
    const auto& shm = request.shm();
    if (shm.length() == 0) return AllowedBuffer();
    TRELLIS_ASSIGN_OR_RETURN(auto region, registry_->FindRegion(token, shm.region_id()));
    TRELLIS_ASSIGN_OR_RETURN(auto mapping, region->MapRange(shm.offset(), shm.length(), read_only));
    std::span<std::byte> bytes = mapping->bytes;
    return AllowedBuffer::Shared(
        allows_.NextId(), std::move(mapping), bytes, read_only,
        {.region_id = shm.region_id(), .offset = shm.offset(), .length = shm.length()});
  }
  if (request.buffer().empty()) return AllowedBuffer();
  // From a range, not memcpy: see the empty case above.
  const auto* bytes = reinterpret_cast<const std::byte*>(request.buffer().data());
  return AllowedBuffer::Copy(
      allows_.NextId(), std::vector<std::byte>(bytes, bytes + request.buffer().size()), read_only);
}

grpc::ServerUnaryReactor* DeviceService::Allow(grpc::CallbackServerContext* context,
                                               const device::v1::AllowRequest* request,
                                               device::v1::AllowResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  rpc::UnaryFinisher finisher(reactor, "the driver stopped");
  auto authorized = AuthorizeOr(*registry_, context, finisher);
  if (!authorized) return reactor;
  auto [grant, instance] = std::move(*authorized);
  auto buffer = BufferOf(TokenOf(context), *request);
  if (!buffer) {
    finisher.Finish(ToStatus(buffer.error()));
    return reactor;
  }
  if (watch_) watch_->Watch(grant.caller.client_id, grant.caller.pid);
  allows_.Swap(instance, grant.node_path, grant.caller, request->minor_num(), request->read_only(),
               std::move(*buffer),
               [finisher = std::move(finisher),
                response](Result<DeviceProtocol::AllowResult> result) mutable {
                 if (!result) {
                   finisher.Finish(ToStatus(result.error()));
                   return;
                 }
                 AllowedBuffer& previous = result->previous;
                 if (previous.shared()) {
                   auto* ref = response->mutable_previous_shm();
                   ref->set_region_id(previous.range().region_id);
                   ref->set_offset(previous.range().offset);
                   ref->set_length(previous.range().length);
                 } else if (!previous.empty()) {  // An empty vector's data() may be null.
                   std::vector<std::byte> bytes = std::move(previous).TakeCopy();
                   response->set_previous_buffer(reinterpret_cast<const char*>(bytes.data()),
                                                 bytes.size());
                 }
                 response->set_value(result->value);
                 finisher.Finish(grpc::Status::OK);
               });
  return reactor;
}

}  // namespace trellis::host
