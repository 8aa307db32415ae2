#include "manager/node_channel_service.h"

#include <google/protobuf/util/time_util.h>
#include <unistd.h>

#include <algorithm>

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
  std::vector<std::string> offered(request->protocols_offered().begin(),
                                   request->protocols_offered().end());
  (void)manager_->dispatcher_.Post([this, request, response, finisher = std::move(finisher),
                                    properties = std::move(*properties),
                                    offered = std::move(offered)]() mutable {
    auto child = manager_->AddChildFromDriver(request->node_token(), request->name(),
                                              std::move(properties), std::move(offered));
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
    auto owner = m.NodeOfToken(request->node_token());
    if (!owner) {
      finisher.Finish(ToStatus(owner.error()));
      return;
    }
    Node* node = m.topology_.Find(request->path());
    if (node == nullptr) {
      finisher.Finish(StatusOf(ErrorCode::kNotFound, "no node " + request->path()));
      return;
    }
    if (node->parent() == nullptr || node->parent()->path() != *owner ||
        !node->added_by_driver) {
      finisher.Finish(StatusOf(ErrorCode::kPermissionDenied,
                               "node " + request->path() + " is not a child added by the driver at " +
                                   *owner));
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

grpc::ServerWriteReactor<power::v1::WakeLeaseEvent>* NodeChannelService::AcquireWakeLease(
    grpc::CallbackServerContext*, const node::v1::WakeLeaseRequest* request) {
  auto [reactor, stream] = rpc::ServerStream<power::v1::WakeLeaseEvent>::Create();
  auto posted = manager_->dispatcher_.Post([this, request, stream]() mutable {
    Manager& m = *manager_;
    auto owner = m.NodeOfToken(request->node_token());
    if (!owner) {
      stream->Finish(ToStatus(owner.error()));
      return;
    }
    if (request->name().empty()) {
      stream->Finish(StatusOf(ErrorCode::kInvalidArgument, "a wake lease needs a name"));
      return;
    }
    power::LeaseInfo info{.name = request->name(), .holder = *owner};
    if (Node* node = m.topology_.Find(*owner)) {
      auto host = m.hosts_.find(node->host_id);
      if (host != m.hosts_.end()) info.pid = static_cast<uint32_t>(host->second->launched.pid);
    }
    m.GrantLeaseOnStream(stream, std::move(info));
  });
  if (!posted) stream->Finish(StatusOf(ErrorCode::kUnavailable, "the manager is shutting down"));
  return reactor;
}

grpc::ServerUnaryReactor* NodeChannelService::DropWakeLease(
    grpc::CallbackServerContext* context, const node::v1::DropWakeLeaseRequest* request,
    node::v1::DropWakeLeaseResponse*) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  rpc::UnaryFinisher finisher(reactor, "the manager is shutting down");
  (void)manager_->dispatcher_.Post([this, request, finisher = std::move(finisher)]() mutable {
    Manager& m = *manager_;
    auto owner = m.NodeOfToken(request->node_token());
    if (!owner) {
      finisher.Finish(ToStatus(owner.error()));
      return;
    }
    if (!m.governor_->ReleaseLeaseOf(request->lease_id(), *owner)) {
      finisher.Finish(StatusOf(ErrorCode::kNotFound, "no wake lease " +
                                                         std::to_string(request->lease_id()) +
                                                         " held for " + *owner));
      return;
    }
    finisher.Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* NodeChannelService::HandOffWakeLease(
    grpc::CallbackServerContext* context, const node::v1::HandOffWakeLeaseRequest* request,
    power::v1::HandOffWakeLeaseResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  rpc::UnaryFinisher finisher(reactor, "the manager is shutting down");
  (void)manager_->dispatcher_.Post([this, request, response,
                                    finisher = std::move(finisher)]() mutable {
    Manager& m = *manager_;
    auto owner = m.NodeOfToken(request->node_token());
    if (!owner) {
      finisher.Finish(ToStatus(owner.error()));
      return;
    }
    const auto deadline = std::chrono::milliseconds(
        google::protobuf::util::TimeUtil::DurationToMilliseconds(request->deadline()));
    auto completed =
        m.governor_->HandOffLeaseOf(request->lease_id(), *owner, request->token(), deadline);
    if (!completed) {
      finisher.Finish(ToStatus(completed.error()));
      return;
    }
    response->set_completed(*completed);
    finisher.Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* NodeChannelService::ReportWake(grpc::CallbackServerContext* context,
                                                         const node::v1::ReportWakeRequest* request,
                                                         node::v1::ReportWakeResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  rpc::UnaryFinisher finisher(reactor, "the manager is shutting down");
  (void)manager_->dispatcher_.RunOrPost([this, request, response,
                                    finisher = std::move(finisher)]() mutable {
    Manager& m = *manager_;
    auto owner = m.NodeOfToken(request->node_token());
    if (!owner) {
      finisher.Finish(ToStatus(owner.error()));
      return;
    }
    Node* node = m.topology_.Find(*owner);
    std::string driver = node ? node->driver : "";
    auto record = m.drivers_.find(driver);
    if (record == m.drivers_.end() || !record->second.file.manifest.power().wake_capable()) {
      finisher.Finish(StatusOf(ErrorCode::kPermissionDenied,
                               "driver '" + driver + "' at " + *owner +
                                   " is not wake-capable (manifest power.wake_capable)"));
      return;
    }
    std::string reason = request->reason().empty() ? "wake vector" : request->reason();
    std::optional<std::chrono::steady_clock::time_point> at;
    if (request->event_monotonic_ns() != 0) {
      at = std::chrono::steady_clock::time_point(
          std::chrono::nanoseconds(request->event_monotonic_ns()));
    }
    response->set_wake_generation(m.governor_->ReportWake(reason, *owner, driver, at));
    finisher.Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* NodeChannelService::Connect(grpc::CallbackServerContext* context,
                                                      const node::v1::ConnectRequest* request,
                                                      node::v1::ConnectResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  rpc::UnaryFinisher finisher(reactor, "the manager is shutting down");
  (void)manager_->dispatcher_.Post([this, request, response,
                                    finisher = std::move(finisher)]() mutable {
    Manager& m = *manager_;
    auto owner = m.NodeOfToken(request->node_token());
    if (!owner) {
      finisher.Finish(ToStatus(owner.error()));
      return;
    }
    Node* node = m.topology_.Find(*owner);
    if (node == nullptr) {
      finisher.Finish(StatusOf(ErrorCode::kUnavailable, "node " + *owner + " went away"));
      return;
    }
    // Only what the parent offers: a driver does not connect to itself.
    const auto& offered = node->offered;
    if (std::find(offered.begin(), offered.end(), request->protocol()) == offered.end()) {
      std::string list;
      for (const auto& p : offered) list += (list.empty() ? "" : ", ") + p;
      finisher.Finish(StatusOf(ErrorCode::kNotFound,
                               "node " + node->path() + " has no offer of '" + request->protocol() +
                                   "' (offers: " + (list.empty() ? "none" : list) + ")"));
      return;
    }
    auto serving = m.ServingNode(node, request->protocol(), /*starting_ok=*/true);
    if (!serving) {
      finisher.Finish(ToStatus(serving.error()));
      return;
    }
    // The driver is the client; drivers the manager bound are trusted with
    // their node's offers, as in DFv2, so no access list applies.
    PeerCredentials caller{.pid = 0, .uid = getuid(), .gid = getgid()};
    m.GrantClient(node, *serving, Manager::ServedProtocol(*node, request->protocol()), caller,
                  Manager::AnswerWithGrant(std::move(finisher), [response](const auto& grant) {
                    response->set_endpoint(grant.endpoint);
                    response->set_token(grant.token);
                    response->set_host_id(grant.host_id);
                  }));
  });
  return reactor;
}

}  // namespace trellis::manager
