// ConsoleClient: calls trellis.console.v1.Console on a driver's endpoint,
// as bound through ManagerClient::Bind: Write, and Read, which follows the
// console's input stream until the caller has enough or time runs out.
//
//   TRELLIS_ASSIGN_OR_RETURN(auto console, ConsoleClient::Connect(binding));
//   TRELLIS_TRY(console.Write("hello\n"));
//   TRELLIS_TRY(console.Read([](std::string_view in) { ...; return true; }, 5s));
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "runtime/error.h"
#include "tools/client/client.h"
#include "trellis/console/v1/console.grpc.pb.h"
#include "trellis/manager/v1/manager.pb.h"

namespace trellis::client {

class ConsoleClient {
 public:
  static constexpr std::string_view kProtocol = "trellis.console.v1.Console";
  // The most one Write call carries; Write splits longer data.
  static constexpr size_t kMaxPerCall = 1 << 20;

  // Errors: kUnavailable if the endpoint does not accept connections;
  // kInvalidArgument if the binding has no endpoint.
  static Result<ConsoleClient> Connect(const manager::v1::BindResponse& binding,
                                       ClientOptions options = {});

  // Writes all of `data`, in order; returns once the device took it.
  // Errors: kInvalidArgument for empty data; kDataLoss (EIO) when the device
  // failed; kUnavailable while the driver reconnects.
  [[nodiscard]] Result<void> Write(std::string_view data);

  // Reads the console's input, calling `sink` with each chunk in order
  // until `max_bytes` arrived (0: no limit; the server takes no more than
  // that from the console, the rest stays for the next reader), `sink`
  // returns false (Ok), the stream ends (its error), or `timeout` passes
  // (kDeadlineExceeded; 0: no limit). Errors also: kFailedPrecondition if
  // another reader has the console.
  [[nodiscard]] Result<void> Read(const std::function<bool(std::string_view)>& sink,
                                  std::chrono::milliseconds timeout, uint64_t max_bytes = 0);

 private:
  ConsoleClient(std::string token, ClientOptions options,
                std::unique_ptr<console::v1::Console::Stub> stub)
      : token_(std::move(token)), options_(options), stub_(std::move(stub)) {}

  std::string token_;
  ClientOptions options_;
  std::unique_ptr<console::v1::Console::Stub> stub_;
};

}  // namespace trellis::client
