#include "tools/client/entropy_client.h"

#include <algorithm>

#include "runtime/rpc/status.h"
#include "tools/client/internal/channel.h"

namespace trellis::client {

Result<EntropyClient> EntropyClient::Connect(const manager::v1::BindResponse& binding,
                                             ClientOptions options) {
  if (binding.endpoint().empty()) {
    return Fail(ErrorCode::kInvalidArgument, "the binding names no endpoint");
  }
  TRELLIS_ASSIGN_OR_RETURN(
      auto channel, internal::OpenChannel(binding.endpoint(), "the driver host", options.timeout));
  return EntropyClient(binding.token(), options, entropy::v1::Entropy::NewStub(channel));
}

Result<std::string> EntropyClient::Read(size_t length) {
  if (length == 0) return Fail(ErrorCode::kInvalidArgument, "a read of 0 bytes");
  std::string out;
  out.reserve(length);
  while (out.size() < length) {
    grpc::ClientContext context;
    internal::SetTimeout(context, options_.timeout);
    internal::AddToken(context, token_);
    entropy::v1::ReadEntropyRequest request;
    request.set_length(static_cast<uint32_t>(std::min(kMaxPerCall, length - out.size())));
    entropy::v1::ReadEntropyResponse response;
    grpc::Status status = stub_->Read(&context, request, &response);
    if (!status.ok()) return Fail(rpc::FromStatus(status, "Entropy.Read"));
    out += response.data();
  }
  return out;
}

}  // namespace trellis::client
