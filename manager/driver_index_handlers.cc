// DriverManager: bind explanations, the driver index at run time and test
// nodes. Changes are for root or the manager's own user only.
#include <unistd.h>

#include "manager/driver_manager_service.h"
#include "manager/manager.h"
#include "runtime/rpc/finisher.h"
#include "runtime/rpc/properties.h"
#include "runtime/rpc/status.h"

namespace trellis::manager {

namespace {

using rpc::StatusOf;
using rpc::ToStatus;
using rpc::UnaryFinisher;

}  // namespace

// Root, or the user the manager runs as (who could restart it with other
// manifests anyway).
Result<void> DriverManagerService::CheckAdmin(grpc::CallbackServerContext* context,
                                              std::string_view what) const {
  auto peer = manager_->acceptor_->Lookup(context->peer());
  if (!peer) {
    return Fail(ErrorCode::kUnauthenticated,
                "cannot identify the caller's connection (" + context->peer() + ")");
  }
  if (peer->uid == 0 || peer->uid == getuid()) return Ok();
  return Fail(ErrorCode::kPermissionDenied,
              "uid " + std::to_string(peer->uid) + " may not " + std::string(what) +
                  ": only root and the manager's user (uid " + std::to_string(getuid()) + ") may");
}

grpc::ServerUnaryReactor* DriverManagerService::ExplainBinding(
    grpc::CallbackServerContext* context, const v1::ExplainBindingRequest* request,
    v1::ExplainBindingResponse* response) {
  auto* reactor = context->DefaultReactor();
  UnaryFinisher finisher(reactor, kShuttingDown);
  (void)manager_->dispatcher_.Post([this, request, response,
                                    finisher = std::move(finisher)]() mutable {
    Manager& m = *manager_;
    Node* node = m.topology_.Find(request->node_path());
    if (node == nullptr) {
      finisher.Finish(StatusOf(ErrorCode::kNotFound, "no node " + request->node_path()));
      return;
    }
    *response = m.ExplainBinding(*node);
    response->set_state(StateToProto(node->state));
    finisher.Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* DriverManagerService::RegisterDriver(
    grpc::CallbackServerContext* context, const v1::RegisterDriverRequest* request,
    v1::RegisterDriverResponse* response) {
  auto* reactor = context->DefaultReactor();
  UnaryFinisher finisher(reactor, kShuttingDown);
  if (auto admin = CheckAdmin(context, "register drivers"); !admin) {
    finisher.Finish(ToStatus(admin.error()));
    return reactor;
  }
  (void)manager_->dispatcher_.Post([this, request, response,
                                    finisher = std::move(finisher)]() mutable {
    auto registered = manager_->RegisterDriver(request->manifest_path());
    if (!registered) {
      finisher.Finish(ToStatus(registered.error()));
      return;
    }
    response->set_driver_name(registered->name);
    for (const auto& path : registered->bound) response->add_bound_nodes(path);
    finisher.Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* DriverManagerService::DisableDriver(
    grpc::CallbackServerContext* context, const v1::DisableDriverRequest* request,
    v1::DisableDriverResponse* response) {
  auto* reactor = context->DefaultReactor();
  UnaryFinisher finisher(reactor, kShuttingDown);
  if (auto admin = CheckAdmin(context, "disable drivers"); !admin) {
    finisher.Finish(ToStatus(admin.error()));
    return reactor;
  }
  (void)manager_->dispatcher_.Post([this, request, response,
                                    finisher = std::move(finisher)]() mutable {
    manager_->DisableDriver(
        request->driver_name(),
        [response, finisher = std::move(finisher)](Result<void> disabled,
                                                   std::vector<std::string> unbound) mutable {
          if (!disabled) {
            finisher.Finish(ToStatus(disabled.error()));
            return;
          }
          for (auto& path : unbound) response->add_unbound_nodes(std::move(path));
          finisher.Finish(grpc::Status::OK);
        });
  });
  return reactor;
}

grpc::ServerUnaryReactor* DriverManagerService::EnableDriver(
    grpc::CallbackServerContext* context, const v1::EnableDriverRequest* request,
    v1::EnableDriverResponse* response) {
  auto* reactor = context->DefaultReactor();
  UnaryFinisher finisher(reactor, kShuttingDown);
  if (auto admin = CheckAdmin(context, "enable drivers"); !admin) {
    finisher.Finish(ToStatus(admin.error()));
    return reactor;
  }
  (void)manager_->dispatcher_.Post([this, request, response,
                                    finisher = std::move(finisher)]() mutable {
    auto bound = manager_->EnableDriver(request->driver_name());
    if (!bound) {
      finisher.Finish(ToStatus(bound.error()));
      return;
    }
    for (const auto& path : *bound) response->add_bound_nodes(path);
    finisher.Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* DriverManagerService::AddTestNode(grpc::CallbackServerContext* context,
                                                           const v1::AddTestNodeRequest* request,
                                                           v1::AddTestNodeResponse* response) {
  auto* reactor = context->DefaultReactor();
  UnaryFinisher finisher(reactor, kShuttingDown);
  if (auto admin = CheckAdmin(context, "add test nodes"); !admin) {
    finisher.Finish(ToStatus(admin.error()));
    return reactor;
  }
  auto properties = rpc::FromProto(request->properties());
  if (!properties) {
    finisher.Finish(ToStatus(properties.error().WithContext("test node properties")));
    return reactor;
  }
  (void)manager_->dispatcher_.Post([this, request, response, properties = std::move(*properties),
                                    finisher = std::move(finisher)]() mutable {
    auto node = manager_->AddTestNode(request->parent_path(), request->name(),
                                      std::move(properties));
    if (!node) {
      finisher.Finish(ToStatus(node.error()));
      return;
    }
    response->set_node_path((*node)->path());
    finisher.Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* DriverManagerService::RemoveTestNode(
    grpc::CallbackServerContext* context, const v1::RemoveTestNodeRequest* request,
    v1::RemoveTestNodeResponse*) {
  auto* reactor = context->DefaultReactor();
  UnaryFinisher finisher(reactor, kShuttingDown);
  if (auto admin = CheckAdmin(context, "remove test nodes"); !admin) {
    finisher.Finish(ToStatus(admin.error()));
    return reactor;
  }
  (void)manager_->dispatcher_.Post([this, request, finisher = std::move(finisher)]() mutable {
    auto shared = std::make_shared<UnaryFinisher>(std::move(finisher));
    auto removing =
        manager_->RemoveTestNode(request->node_path(), [shared] { shared->Finish(grpc::Status::OK); });
    if (!removing) shared->Finish(ToStatus(removing.error()));
  });
  return reactor;
}

grpc::ServerUnaryReactor* DriverManagerService::AddCompositeSpec(
    grpc::CallbackServerContext* context, const v1::AddCompositeSpecRequest* request,
    v1::AddCompositeSpecResponse* response) {
  auto* reactor = context->DefaultReactor();
  UnaryFinisher finisher(reactor, kShuttingDown);
  if (auto admin = CheckAdmin(context, "add composite specs"); !admin) {
    finisher.Finish(ToStatus(admin.error()));
    return reactor;
  }
  (void)manager_->dispatcher_.Post([this, request, response,
                                    finisher = std::move(finisher)]() mutable {
    auto added = manager_->AddComposite(request->spec());
    if (!added) {
      finisher.Finish(ToStatus(added.error()));
      return;
    }
    response->set_node_path(*added);
    finisher.Finish(grpc::Status::OK);
  });
  return reactor;
}

}  // namespace trellis::manager
