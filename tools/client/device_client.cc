// DeviceClient and UpcallSubscription: Device calls with the binding's token.
#include "tools/client/device_client.h"

#include <deque>
#include <optional>

#include "runtime/mutex.h"
#include "runtime/rpc/status.h"
#include "tools/client/internal/channel.h"

namespace trellis::client {

namespace {

using device::v1::Upcall;

// How long destroying a subscription waits for gRPC to finish the call.
constexpr auto kCancelWait = std::chrono::seconds(5);

}  // namespace

// Shared by the subscription and its Reader: whichever goes last frees it,
// so neither outlives the other's data.
struct UpcallSubscription::State {
  std::shared_ptr<device::v1::Device::Stub> stub;  // Keeps the channel up.
  grpc::ClientContext context;
  device::v1::SubscribeRequest request;

  mutable Mutex mu;
  CondVar changed;
  std::deque<Upcall> queue TRELLIS_GUARDED_BY(mu);
  std::optional<grpc::Status> status TRELLIS_GUARDED_BY(mu);  // Set once the call ended.
  uint64_t dropped TRELLIS_GUARDED_BY(mu) = 0;
};

// The gRPC side: reads upcalls into State on gRPC threads. Deletes itself
// when the call is done.
class UpcallSubscription::Reader final : public grpc::ClientReadReactor<Upcall> {
 public:
  static void Start(std::shared_ptr<State> state) {
    auto* reader = new Reader(std::move(state));
    reader->state_->stub->async()->Subscribe(&reader->state_->context, &reader->state_->request,
                                             reader);
    reader->StartRead(&reader->incoming_);
    reader->StartCall();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // The stream ended; OnDone follows.
    {
      MutexLock lock(state_->mu);
      if (state_->queue.size() >= kMaxQueued) {
        state_->queue.pop_front();
        ++state_->dropped;
      }
      state_->queue.push_back(std::move(incoming_));
      state_->changed.NotifyAll();
    }
    incoming_.Clear();
    StartRead(&incoming_);
  }

  void OnDone(const grpc::Status& status) override {
    {
      MutexLock lock(state_->mu);
      state_->status = status;
      state_->changed.NotifyAll();
    }
    delete this;
  }

 private:
  explicit Reader(std::shared_ptr<State> state) : state_(std::move(state)) {}

  std::shared_ptr<State> state_;
  Upcall incoming_;
};

UpcallSubscription::UpcallSubscription(std::shared_ptr<State> state) : state_(std::move(state)) {}
UpcallSubscription::UpcallSubscription(UpcallSubscription&&) noexcept = default;

UpcallSubscription& UpcallSubscription::operator=(UpcallSubscription&& other) noexcept {
  if (this != &other) {
    UpcallSubscription old(std::move(*this));  // Cancelled as it goes out of scope.
    state_ = std::move(other.state_);
  }
  return *this;
}

UpcallSubscription::~UpcallSubscription() {
  if (!state_) return;
  Cancel();
  auto deadline = std::chrono::steady_clock::now() + kCancelWait;
  MutexLock lock(state_->mu);
  while (!state_->status && state_->changed.WaitUntil(state_->mu, deadline)) {
  }
}

Result<Upcall> UpcallSubscription::WaitNext(std::chrono::milliseconds timeout) {
  if (!state_) return Fail(ErrorCode::kFailedPrecondition, "the subscription was moved from");
  auto deadline = std::chrono::steady_clock::now() + timeout;
  MutexLock lock(state_->mu);
  while (state_->queue.empty() && !state_->status) {
    if (!state_->changed.WaitUntil(state_->mu, deadline) &&
        std::chrono::steady_clock::now() >= deadline) {
      break;
    }
  }
  if (!state_->queue.empty()) {
    Upcall upcall = std::move(state_->queue.front());
    state_->queue.pop_front();
    return upcall;
  }
  if (!state_->status) {
    return Fail(ErrorCode::kDeadlineExceeded,
                "no upcall on minor " + std::to_string(state_->request.minor_num()) + " within " +
                    std::to_string(timeout.count()) + " ms");
  }
  if (state_->status->ok()) {
    return Fail(ErrorCode::kOutOfRange, "the driver ended the upcall stream of minor " +
                                            std::to_string(state_->request.minor_num()));
  }
  return Fail(rpc::FromStatus(*state_->status, "Device.Subscribe"));
}

void UpcallSubscription::Cancel() {
  if (state_) state_->context.TryCancel();
}

uint64_t UpcallSubscription::dropped() const {
  if (!state_) return 0;
  MutexLock lock(state_->mu);
  return state_->dropped;
}

Result<DeviceClient> DeviceClient::Connect(const manager::v1::BindResponse& binding,
                                           ClientOptions options) {
  if (binding.endpoint().empty()) {
    return Fail(ErrorCode::kInvalidArgument, "the binding names no endpoint");
  }
  TRELLIS_ASSIGN_OR_RETURN(
      auto channel, internal::OpenChannel(binding.endpoint(), "the driver host", options.timeout));
  return DeviceClient(
      binding.endpoint(), binding.token(), options,
      std::shared_ptr<device::v1::Device::Stub>(device::v1::Device::NewStub(channel)));
}

Result<int64_t> DeviceClient::Command(uint32_t minor, uint64_t arg1, uint64_t arg2) {
  grpc::ClientContext context;
  internal::SetTimeout(context, options_.timeout);
  internal::AddToken(context, token_);
  device::v1::CommandRequest request;
  request.set_minor_num(minor);
  request.set_arg1(arg1);
  request.set_arg2(arg2);
  device::v1::CommandResponse response;
  grpc::Status status = stub_->Command(&context, request, &response);
  if (!status.ok()) return Fail(rpc::FromStatus(status, "Device.Command"));
  return response.value();
}

Result<device::v1::AllowResponse> DeviceClient::Allow(uint32_t minor, bool read_only,
                                                      std::string buffer) {
  grpc::ClientContext context;
  internal::SetTimeout(context, options_.timeout);
  internal::AddToken(context, token_);
  device::v1::AllowRequest request;
  request.set_minor_num(minor);
  request.set_read_only(read_only);
  if (!buffer.empty()) request.set_buffer(std::move(buffer));
  device::v1::AllowResponse response;
  grpc::Status status = stub_->Allow(&context, request, &response);
  if (!status.ok()) return Fail(rpc::FromStatus(status, "Device.Allow"));
  return response;
}

Result<device::v1::AllowResponse> DeviceClient::AllowShared(uint32_t minor, bool read_only,
                                                            uint64_t region_id, uint64_t offset,
                                                            uint64_t length) {
  grpc::ClientContext context;
  internal::SetTimeout(context, options_.timeout);
  internal::AddToken(context, token_);
  device::v1::AllowRequest request;
  request.set_minor_num(minor);
  request.set_read_only(read_only);
  request.mutable_shm()->set_region_id(region_id);
  request.mutable_shm()->set_offset(offset);
  request.mutable_shm()->set_length(length);
  device::v1::AllowResponse response;
  grpc::Status status = stub_->Allow(&context, request, &response);
  if (!status.ok()) return Fail(rpc::FromStatus(status, "Device.Allow"));
  return response;
}

UpcallSubscription DeviceClient::Subscribe(uint32_t minor) {
  auto state = std::make_shared<UpcallSubscription::State>();
  state->stub = stub_;
  internal::AddToken(state->context, token_);
  state->request.set_minor_num(minor);
  UpcallSubscription::Reader::Start(state);
  return UpcallSubscription(std::move(state));
}

}  // namespace trellis::client
