// DeviceClient: calls trellis.device.v1.Device on a driver's endpoint, as
// bound through ManagerClient::Bind; UpcallSubscription: the upcalls of one
// Subscribe, read with a timeout.
//
//   TRELLIS_ASSIGN_OR_RETURN(auto binding, manager.Bind(path, DeviceClient::kProtocol));
//   TRELLIS_ASSIGN_OR_RETURN(auto device, DeviceClient::Connect(binding));
//   TRELLIS_ASSIGN_OR_RETURN(int64_t sum, device.Command(1, 2, 3));
//
// Every call carries the binding's token in the "trellis-token" metadata.
// Per-client driver state (subscriptions, allowed buffers) belongs to the
// token: it lives until the token is unbound (ManagerClient::Unbind).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "runtime/error.h"
#include "tools/client/client.h"
#include "trellis/device/v1/device.grpc.pb.h"
#include "trellis/manager/v1/manager.pb.h"

namespace trellis::client {

// The upcall stream of one Device.Subscribe. Move-only; destroying it
// cancels the stream. Thread-compatible: use from one thread at a time
// (upcalls are queued by gRPC threads internally).
class UpcallSubscription {
 public:
  // Upcalls kept while nobody reads; past this the oldest are dropped.
  static constexpr size_t kMaxQueued = 1024;

  UpcallSubscription(UpcallSubscription&&) noexcept;
  UpcallSubscription& operator=(UpcallSubscription&&) noexcept;
  // Cancels the stream and waits (briefly) for gRPC to let go of it.
  ~UpcallSubscription();

  // The next upcall, waiting up to `timeout` for one. Upcalls that arrived
  // before the stream ended are still returned. May block.
  // Errors:
  //   kDeadlineExceeded — nothing arrived in time; the subscription is still
  //                       live and WaitNext may be called again.
  //   once the stream has ended and every upcall was read, its status:
  //   kCancelled after Cancel(); kAborted if a newer Subscribe to the same
  //   minor replaced it; kUnimplemented if the driver has no upcalls on the
  //   minor; kUnavailable if the driver or host went away; kOutOfRange if
  //   the driver ended the stream normally.
  [[nodiscard]] Result<device::v1::Upcall> WaitNext(std::chrono::milliseconds timeout);

  // Ends the stream; never blocks. Queued upcalls stay readable.
  void Cancel();

  // How many upcalls were dropped because more than kMaxQueued were unread.
  uint64_t dropped() const;

 private:
  friend class DeviceClient;
  struct State;
  class Reader;
  explicit UpcallSubscription(std::shared_ptr<State> state);

  std::shared_ptr<State> state_;
};

class DeviceClient {
 public:
  // The protocol name to pass to ManagerClient::Bind.
  static constexpr std::string_view kProtocol = "trellis.device.v1.Device";

  // Connects to binding.endpoint; later calls send binding.token. Blocks up
  // to options.timeout (at most 5 s) for the connection.
  // Errors: kUnavailable if the endpoint does not accept connections;
  // kInvalidArgument if the binding has no endpoint.
  static Result<DeviceClient> Connect(const manager::v1::BindResponse& binding,
                                      ClientOptions options = {});

  DeviceClient(DeviceClient&&) = default;
  DeviceClient& operator=(DeviceClient&&) = default;

  const std::string& endpoint() const { return endpoint_; }
  const std::string& token() const { return token_; }

  // Runs Command(minor, arg1, arg2) and returns the driver's value. Blocks
  // up to the timeout.
  // Errors: as the driver reports them (kUnimplemented for an unknown minor,
  // kInvalidArgument, kUnavailable while suspended or restarting), or
  // kPermissionDenied / kUnauthenticated for a revoked token.
  [[nodiscard]] Result<int64_t> Command(uint32_t minor, uint64_t arg1 = 0, uint64_t arg2 = 0);

  // Lends `buffer` to the slot (minor, read_only), returning what the slot
  // held before (previous_buffer, possibly with driver writes). An empty
  // buffer un-allows the slot. Errors as for Command, plus
  // kResourceExhausted for an oversized buffer.
  [[nodiscard]] Result<device::v1::AllowResponse> Allow(uint32_t minor, bool read_only,
                                                        std::string buffer);

  // Lends `length` bytes at `offset` of a region attached under this
  // binding (SharedMemory::Attach(endpoint(), token())) in place: the driver
  // reads and writes that memory itself, read-only if `read_only`. A length
  // of 0 un-allows the slot. Errors as for Allow, plus kNotFound for a
  // region not attached under this token and kOutOfRange for a range
  // outside it.
  [[nodiscard]] Result<device::v1::AllowResponse> AllowShared(uint32_t minor, bool read_only,
                                                              uint64_t region_id, uint64_t offset,
                                                              uint64_t length);

  // Starts a Subscribe stream for `minor`; never blocks. Whether the driver
  // accepted it shows in the first WaitNext (an error ends the stream). A
  // driver may need a moment to register the subscription: upcalls caused
  // by a Command sent at once after Subscribe can be missed.
  UpcallSubscription Subscribe(uint32_t minor);

 private:
  DeviceClient(std::string endpoint, std::string token, ClientOptions options,
               std::shared_ptr<device::v1::Device::Stub> stub)
      : endpoint_(std::move(endpoint)),
        token_(std::move(token)),
        options_(options),
        stub_(std::move(stub)) {}

  std::string endpoint_;
  std::string token_;
  ClientOptions options_;
  std::shared_ptr<device::v1::Device::Stub> stub_;
};

}  // namespace trellis::client
