// Helpers shared by ManagerClient and the driver protocol clients: opening a
// channel that fails fast with a readable error, per-call deadlines, and the
// binding token's metadata.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "runtime/error.h"

namespace trellis::client::internal {

// Opens a channel to `endpoint` and waits up to `timeout` (at most 5 s) for
// it to connect. `what` names the peer in errors ("trellis-manager").
// Errors: kUnavailable when a unix socket file is missing or nothing accepts
// on it: "cannot reach <what> at <endpoint>: <why>: is it running?".
Result<std::shared_ptr<grpc::Channel>> OpenChannel(const std::string& endpoint,
                                                   std::string_view what,
                                                   std::chrono::milliseconds timeout);

// Sets a deadline `timeout` from now on `context`.
inline void SetTimeout(grpc::ClientContext& context, std::chrono::milliseconds timeout) {
  context.set_deadline(std::chrono::system_clock::now() + timeout);
}

// Adds a binding's token (ManagerClient::Bind) to `context`, as driver hosts
// expect it: in the "trellis-token" metadata.
inline void AddToken(grpc::ClientContext& context, const std::string& token) {
  context.AddMetadata("trellis-token", token);
}

}  // namespace trellis::client::internal
