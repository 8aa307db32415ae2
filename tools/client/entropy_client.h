// EntropyClient: calls trellis.entropy.v1.Entropy on a driver's endpoint,
// as bound through ManagerClient::Bind.
//
//   TRELLIS_ASSIGN_OR_RETURN(auto binding, manager.Bind(path, EntropyClient::kProtocol));
//   TRELLIS_ASSIGN_OR_RETURN(auto rng, EntropyClient::Connect(binding));
//   TRELLIS_ASSIGN_OR_RETURN(std::string bytes, rng.Read(32));
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "runtime/error.h"
#include "tools/client/client.h"
#include "trellis/entropy/v1/entropy.grpc.pb.h"
#include "trellis/manager/v1/manager.pb.h"

namespace trellis::client {

class EntropyClient {
 public:
  static constexpr std::string_view kProtocol = "trellis.entropy.v1.Entropy";
  // The most one Read call returns; Read splits longer reads.
  static constexpr size_t kMaxPerCall = 65536;

  // Errors: kUnavailable if the endpoint does not accept connections;
  // kInvalidArgument if the binding has no endpoint.
  static Result<EntropyClient> Connect(const manager::v1::BindResponse& binding,
                                       ClientOptions options = {});

  // Exactly `length` random bytes (several calls past kMaxPerCall).
  // Errors: kInvalidArgument for 0; kDataLoss (EIO) when the device failed;
  // kUnavailable while the driver reconnects to its backend.
  [[nodiscard]] Result<std::string> Read(size_t length);

 private:
  EntropyClient(std::string token, ClientOptions options,
                std::unique_ptr<entropy::v1::Entropy::Stub> stub)
      : token_(std::move(token)), options_(options), stub_(std::move(stub)) {}

  std::string token_;
  ClientOptions options_;
  std::unique_ptr<entropy::v1::Entropy::Stub> stub_;
};

}  // namespace trellis::client
