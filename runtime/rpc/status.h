// Conversions between trellis::Error and grpc::Status. ErrorCode and
// grpc::StatusCode share their numbering, so codes map one-to-one.
#pragma once

#include <grpcpp/support/status.h>

#include <string_view>

#include "runtime/error.h"

namespace trellis::rpc {

grpc::Status ToStatus(const Error& error);
inline grpc::Status ToStatus(const Result<void>& result) {
  return result ? grpc::Status::OK : ToStatus(result.error());
}
// An Error for a failed call; `what` names the call ("StartDriver on host h1").
Error FromStatus(const grpc::Status& status, std::string_view what);
inline grpc::Status StatusOf(ErrorCode code, std::string message) {
  return grpc::Status(static_cast<grpc::StatusCode>(code), std::move(message));
}

}  // namespace trellis::rpc
