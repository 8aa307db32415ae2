#include "manager/node_channel_service.h"

#include "manager/manager.h"
#include "runtime/rpc/finisher.h"
#include "runtime/rpc/properties.h"
#include "runtime/rpc/status.h"

namespace trellis::manager {

using rpc::StatusOf;
using rpc::ToStatus;

grpc::ServerUnaryReactor* NodeChannelService::AddChild(grpc::CallbackServerContext* context,
                                                       const node::v1::AddChildRequest* request,
                                                       node::v1::AddChildResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  rpc::UnaryFinisher finisher(reactor, "the manager is shutting down");
  auto properties = rpc::FromProto(request->properties());
  if (!properties) {
    finisher.Finish(ToStatus(properties.error().WithContext("child '" + request->name() + "'")));
    return reactor;
  }
  (void)manager_->dispatcher_.Post([this, request, response, finisher = std::move(finisher),
                                    properties = std::move(*properties)]() mutable {
    auto child = manager_->AddChildFromDriver(request->node_token(), request->name(),
                                              std::move(properties));
    if (!child) {
      finisher.Finish(ToStatus(child.error()));
      return;
    }
    response->set_child_path((*child)->path());
    finisher.Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* NodeChannelService::RemoveNode(grpc::CallbackServerContext* context,
                                                         const node::v1::RemoveNodeRequest* request,
                                                         node::v1::RemoveNodeResponse*) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  rpc::UnaryFinisher finisher(reactor, "the manager is shutting down");
  (void)manager_->dispatcher_.Post([this, request, finisher = std::move(finisher)]() mutable {
    Manager& m = *manager_;
    auto owner = m.node_tokens_.find(request->node_token());
    if (owner == m.node_tokens_.end()) {
      finisher.Finish(StatusOf(ErrorCode::kUnauthenticated, "unknown or revoked node token"));
      return;
    }
    Node* node = m.topology_.Find(request->path());
    if (node == nullptr) {
      finisher.Finish(StatusOf(ErrorCode::kNotFound, "no node " + request->path()));
      return;
    }
    if (node->parent() == nullptr || node->parent()->path() != owner->second ||
        !node->added_by_driver) {
      finisher.Finish(StatusOf(ErrorCode::kPermissionDenied,
                               "node " + request->path() + " is not a child added by the driver at " +
                                   owner->second));
      return;
    }
    if (node->state == NodeState::kRemoving) {
      finisher.Finish(StatusOf(ErrorCode::kFailedPrecondition,
                               "node " + request->path() + " is already being removed"));
      return;
    }
    auto shared = std::make_shared<rpc::UnaryFinisher>(std::move(finisher));
    m.RemoveSubtree(node, /*keep_root=*/false, [shared] { shared->Finish(grpc::Status::OK); });
  });
  return reactor;
}

}  // namespace trellis::manager
