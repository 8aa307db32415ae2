// DeviceService: serves trellis.device.v1.Device to bound clients on the
// host's client socket. Each call carries the capability token from
// DriverManager.Bind in "trellis-token" metadata; the token names the node,
// whose driver's DeviceProtocol handles the call on its dispatcher.
//
// Subscriptions: one stream per (client, node, minor). A second Subscribe
// ends the first stream with ABORTED before the driver sees the new one.
#pragma once

#include <map>
#include <memory>
#include <tuple>

#include "runtime/host/host_registry.h"
#include "runtime/mutex.h"
#include "trellis/device/v1/device.grpc.pb.h"

namespace trellis::host {

class UpcallStream;

class DeviceService final : public trellis::device::v1::Device::CallbackService {
 public:
  explicit DeviceService(HostRegistry* registry) : registry_(registry) {}

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

  HostRegistry* registry_;
  Mutex mu_;
  std::map<SubscriptionKey, std::weak_ptr<UpcallStream>> subscriptions_ TRELLIS_GUARDED_BY(mu_);
};

}  // namespace trellis::host
