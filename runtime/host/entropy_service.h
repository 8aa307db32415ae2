// EntropyService: serves trellis.entropy.v1.Entropy to bound clients on the
// host's client socket, for drivers that serve EntropyProtocol. The length
// is checked here; the driver's Read runs on its dispatcher.
#pragma once

#include "runtime/host/host_registry.h"
#include "trellis/entropy/v1/entropy.grpc.pb.h"

namespace trellis::host {

class EntropyService final : public trellis::entropy::v1::Entropy::CallbackService {
 public:
  explicit EntropyService(HostRegistry* registry) : registry_(registry) {}

  grpc::ServerUnaryReactor* Read(grpc::CallbackServerContext* context,
                                 const entropy::v1::ReadEntropyRequest* request,
                                 entropy::v1::ReadEntropyResponse* response) override;

 private:
  HostRegistry* registry_;
};

}  // namespace trellis::host
