// DeviceService: serves trellis.device.v1.Device to bound clients on the
// host's client socket. Each call carries the capability token from
// DriverManager.Bind in "trellis-token" metadata; the token names the node,
// whose driver's DeviceProtocol handles the call on its dispatcher.
//
// Subscriptions: one stream per (client, node, minor). A second Subscribe
// ends the first stream with ABORTED before the driver sees the new one.
// One process holds at most kMaxSubscriptionsPerProcess live streams on a
// host (of all its bindings); past that a new one ends RESOURCE_EXHAUSTED.
//
// Allow: a buffer is either the bytes the call carries or a range of a
// region the client attached on the side socket (SharedMemoryServer),
// mapped for that allow alone (read-only for a read-only slot). AllowTable
// checks each swap; a client's slots are taken back when its token is
// revoked or its process exits (ClientWatch).
#pragma once

#include <map>
#include <memory>
#include <tuple>

#include "runtime/host/allow_table.h"
#include "runtime/host/client_watch.h"
#include "runtime/host/host_registry.h"
#include "runtime/mutex.h"
#include "trellis/device/v1/device.grpc.pb.h"

namespace trellis::host {

class UpcallStream;

class DeviceService final : public trellis::device::v1::Device::CallbackService {
 public:
  // Half the server's 256 streams per connection, so a client at the cap
  // can still make calls on the same channel.
  static constexpr size_t kMaxSubscriptionsPerProcess = 128;

  explicit DeviceService(HostRegistry* registry);
  ~DeviceService() override;

  grpc::ServerUnaryReactor* Command(grpc::CallbackServerContext* context,
                                    const device::v1::CommandRequest* request,
                                    device::v1::CommandResponse* response) override;
  grpc::ServerWriteReactor<device::v1::Upcall>* Subscribe(
      grpc::CallbackServerContext* context, const device::v1::SubscribeRequest* request) override;
  grpc::ServerUnaryReactor* Allow(grpc::CallbackServerContext* context,
                                  const device::v1::AllowRequest* request,
                                  device::v1::AllowResponse* response) override;

 private:
  using SubscriptionKey = std::tuple<uint64_t, std::string, uint32_t>;
  struct Subscription {
    std::weak_ptr<UpcallStream> stream;
    pid_t pid = 0;
  };

  // The buffer an AllowRequest lends, or the error to answer with.
  Result<AllowedBuffer> BufferOf(const std::string& token, const device::v1::AllowRequest& request);

  HostRegistry* registry_;
  AllowTable allows_;
  std::unique_ptr<ClientWatch> watch_;  // Null if it could not start (allows then last to unbind).
  Mutex mu_;
  std::map<SubscriptionKey, Subscription> subscriptions_ TRELLIS_GUARDED_BY(mu_);
};

}  // namespace trellis::host
