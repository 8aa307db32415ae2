#include "runtime/rpc/status.h"

namespace trellis::rpc {

grpc::Status ToStatus(const Error& error) {
  return grpc::Status(static_cast<grpc::StatusCode>(error.code()), error.message());
}

Error FromStatus(const grpc::Status& status, std::string_view what) {
  ErrorCode code = status.error_code() == grpc::StatusCode::OK
                       ? ErrorCode::kInternal
                       : static_cast<ErrorCode>(status.error_code());
  return Error(code, std::string(what) + ": " + status.error_message());
}

}  // namespace trellis::rpc
