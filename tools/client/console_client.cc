#include "tools/client/console_client.h"

#include <algorithm>

#include "runtime/rpc/status.h"
#include "tools/client/internal/channel.h"

namespace trellis::client {

Result<ConsoleClient> ConsoleClient::Connect(const manager::v1::BindResponse& binding,
                                             ClientOptions options) {
  if (binding.endpoint().empty()) {
    return Fail(ErrorCode::kInvalidArgument, "the binding names no endpoint");
  }
  TRELLIS_ASSIGN_OR_RETURN(
      auto channel, internal::OpenChannel(binding.endpoint(), "the driver host", options.timeout));
  return ConsoleClient(binding.token(), options, console::v1::Console::NewStub(channel));
}

Result<void> ConsoleClient::Write(std::string_view data) {
  if (data.empty()) return Fail(ErrorCode::kInvalidArgument, "a write of 0 bytes");
  for (size_t done = 0; done < data.size();) {
    grpc::ClientContext context;
    internal::SetTimeout(context, options_.timeout);
    internal::AddToken(context, token_);
    console::v1::ConsoleWriteRequest request;
    request.set_data(std::string(data.substr(done, kMaxPerCall)));
    console::v1::ConsoleWriteResponse response;
    grpc::Status status = stub_->Write(&context, request, &response);
    if (!status.ok()) return Fail(rpc::FromStatus(status, "Console.Write"));
    done += request.data().size();
  }
  return Ok();
}

Result<void> ConsoleClient::Read(const std::function<bool(std::string_view)>& sink,
                                 std::chrono::milliseconds timeout, uint64_t max_bytes) {
  grpc::ClientContext context;
  if (timeout.count() > 0) context.set_deadline(std::chrono::system_clock::now() + timeout);
  internal::AddToken(context, token_);
  console::v1::ConsoleReadRequest request;
  request.set_max_bytes(max_bytes);
  auto reader = stub_->Read(&context, request);
  console::v1::ConsoleData data;
  bool wanted_more = true;
  while (reader->Read(&data)) {
    if (!sink(data.data())) {
      wanted_more = false;
      context.TryCancel();
      break;
    }
  }
  grpc::Status status = reader->Finish();
  if (!wanted_more || status.ok()) return Ok();
  return Fail(rpc::FromStatus(status, "Console.Read"));
}

}  // namespace trellis::client
