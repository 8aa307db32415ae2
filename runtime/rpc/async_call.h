// CallAsync: one unary gRPC call on the callback API with a deadline and a
// move-only completion. The completion runs once, on a gRPC thread; callers
// hop to their dispatcher from there.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <functional>
#include <memory>

namespace trellis::rpc {

template <typename Request, typename Response>
using Invoke = std::function<void(grpc::ClientContext*, const Request*, Response*,
                                  std::function<void(grpc::Status)>)>;

// Example:
//   CallAsync<AddChildRequest, AddChildResponse>(
//       10s, std::move(req),
//       [stub](auto* ctx, auto* req, auto* resp, auto cb) {
//         stub->async()->AddChild(ctx, req, resp, std::move(cb));
//       },
//       [](grpc::Status status, AddChildResponse resp) { ... });
template <typename Request, typename Response>
void CallAsync(std::chrono::milliseconds timeout, Request request,
               const Invoke<Request, Response>& invoke,
               std::move_only_function<void(grpc::Status, Response)> done) {
  struct Call {
    grpc::ClientContext context;
    Request request;
    Response response;
    std::move_only_function<void(grpc::Status, Response)> done;
  };
  auto call = std::make_shared<Call>();
  call->request = std::move(request);
  call->done = std::move(done);
  call->context.set_deadline(std::chrono::system_clock::now() + timeout);
  invoke(&call->context, &call->request, &call->response,
         [call](grpc::Status status) { call->done(std::move(status), std::move(call->response)); });
}

}  // namespace trellis::rpc
