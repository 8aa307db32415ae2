// OnServingDriver: the shape every unary call of a typed protocol has on the
// host. Authorizes the call's token for Protocol, then runs
// fn(protocol, caller, finisher) on the serving driver's dispatcher (inline
// when it is idle), with the implementation served at the node the token
// names (the driver's own, or a child it offers the protocol on). Answers
// the call itself when that cannot happen: the token's error, UNAVAILABLE
// if the driver no longer serves the protocol or has stopped. Returns the
// call's reactor, for the handler to return.
#pragma once

#include <grpcpp/grpcpp.h>

#include <string>

#include "runtime/host/client_token.h"
#include "runtime/host/host_registry.h"
#include "runtime/rpc/finisher.h"
#include "runtime/rpc/status.h"

namespace trellis::host {

template <typename Protocol, typename Fn>
grpc::ServerUnaryReactor* OnServingDriver(const HostRegistry& registry,
                                          grpc::CallbackServerContext* context, Fn fn) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  rpc::UnaryFinisher finisher(reactor, "the driver stopped");
  auto authorized = registry.AuthorizeCall(TokenOf(context), Protocol::kName, context->peer());
  if (!authorized) {
    finisher.Finish(rpc::ToStatus(authorized.error()));
    return reactor;
  }
  auto& [grant, instance] = *authorized;
  auto dispatcher = instance->dispatcher();
  // A failed post drops the task and its finisher: UNAVAILABLE.
  (void)dispatcher.RunOrPost([instance = std::move(instance), path = std::move(grant.node_path),
                              caller = grant.caller, finisher = std::move(finisher),
                              fn = std::move(fn)]() mutable {
    auto* protocol = static_cast<Protocol*>(instance->FindProtocol(path, Protocol::kName));
    if (protocol == nullptr) {
      finisher.Finish(rpc::StatusOf(ErrorCode::kUnavailable,
                                    "the driver no longer serves " + std::string(Protocol::kName)));
      return;
    }
    fn(*protocol, caller, std::move(finisher));
  });
  return reactor;
}

}  // namespace trellis::host
