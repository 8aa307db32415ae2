#include "runtime/host/entropy_service.h"

#include "runtime/driver/entropy_protocol.h"
#include "runtime/host/serving_call.h"
#include "runtime/rpc/finisher.h"
#include "runtime/rpc/status.h"

namespace trellis::host {

grpc::ServerUnaryReactor* EntropyService::Read(grpc::CallbackServerContext* context,
                                               const entropy::v1::ReadEntropyRequest* request,
                                               entropy::v1::ReadEntropyResponse* response) {
  if (request->length() == 0 || request->length() > EntropyProtocol::kMaxRead) {
    auto* reactor = context->DefaultReactor();
    reactor->Finish(
        rpc::StatusOf(ErrorCode::kInvalidArgument, "length " + std::to_string(request->length()) +
                                                       " is outside 1.." +
                                                       std::to_string(EntropyProtocol::kMaxRead)));
    return reactor;
  }
  return OnServingDriver<EntropyProtocol>(
      *registry_, context,
      [length = request->length(), response](EntropyProtocol& protocol, const Caller&,
                                             rpc::UnaryFinisher finisher) {
        protocol.Read(length, [length, response, finisher = std::move(finisher)](
                                  Result<std::vector<std::byte>> bytes) mutable {
          if (!bytes) {
            finisher.Finish(rpc::ToStatus(bytes.error()));
            return;
          }
          if (bytes->size() != length) {  // A driver bug; never pass it on as entropy.
            finisher.Finish(rpc::StatusOf(ErrorCode::kInternal,
                                          "the driver returned " + std::to_string(bytes->size()) +
                                              " bytes for a read of " + std::to_string(length)));
            return;
          }
          response->set_data(reinterpret_cast<const char*>(bytes->data()), bytes->size());
          finisher.Finish(grpc::Status::OK);
        });
      });
}

}  // namespace trellis::host
