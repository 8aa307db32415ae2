#include "manager/driver_manager_service.h"

#include <unistd.h>

#include <algorithm>

#include "manager/manager.h"
#include "runtime/rpc/async_call.h"
#include "runtime/rpc/finisher.h"
#include "runtime/rpc/properties.h"
#include "runtime/rpc/status.h"

namespace trellis::manager {

namespace {

using rpc::StatusOf;
using rpc::ToStatus;
using rpc::UnaryFinisher;

std::string JoinIds(const google::protobuf::RepeatedField<uint32_t>& ids) {
  std::string out = "[";
  for (int i = 0; i < ids.size(); ++i) out += (i ? ", " : "") + std::to_string(ids[i]);
  return out + "]";
}

// Whether a peer may bind to a driver with this access policy. Root always
// may; an empty policy admits the manager's own uid; otherwise the uid, or
// one of the peer's groups (primary or supplementary), must be listed.
Result<void> CheckAccess(const manifest::v1::Access& access, const PeerCredentials& peer,
                         const std::string& node_path) {
  if (peer.uid == 0) return Ok();
  if (access.uids().empty() && access.gids().empty()) {
    if (peer.uid == getuid()) return Ok();
  }
  if (std::find(access.uids().begin(), access.uids().end(), peer.uid) != access.uids().end() ||
      std::any_of(access.gids().begin(), access.gids().end(),
                  [&](uint32_t gid) { return peer.InGroup(gid); })) {
    return Ok();
  }
  return Fail(ErrorCode::kPermissionDenied,
              "uid " + std::to_string(peer.uid) + " (gid " + std::to_string(peer.gid) +
                  ") may not bind to " + node_path + ": the driver's access allows uids " +
                  JoinIds(access.uids()) + ", gids " + JoinIds(access.gids()));
}

}  // namespace

node::v1::NodeState StateToProto(NodeState state) {
  switch (state) {
    case NodeState::kUnbound: return node::v1::NODE_STATE_UNBOUND;
    case NodeState::kBinding: return node::v1::NODE_STATE_BINDING;
    case NodeState::kBound: return node::v1::NODE_STATE_BOUND;
    case NodeState::kQuarantined: return node::v1::NODE_STATE_QUARANTINED;
    case NodeState::kRemoving: return node::v1::NODE_STATE_REMOVING;
  }
  return node::v1::NODE_STATE_UNSPECIFIED;
}

grpc::ServerUnaryReactor* DriverManagerService::ListNodes(grpc::CallbackServerContext* context,
                                                          const v1::ListNodesRequest* request,
                                                          v1::ListNodesResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  UnaryFinisher finisher(reactor, kShuttingDown);
  (void)manager_->dispatcher_.Post([this, request, response, finisher = std::move(finisher)]() mutable {
    Manager& m = *manager_;
    std::string root = request->root_path().empty() ? "root" : request->root_path();
    Node* from = m.topology_.Find(root);
    if (from == nullptr) {
      finisher.Finish(StatusOf(ErrorCode::kNotFound, "no node " + root));
      return;
    }
    m.topology_.PreOrder(from, [&](Node* node) {
      node::v1::NodeInfo* info = response->add_nodes();
      info->set_path(node->path());
      info->set_name(node->name());
      if (node->parent() != nullptr) info->set_parent_path(node->parent()->path());
      rpc::ToProto(node->properties(), info->mutable_properties());
      info->set_bound_driver(node->driver);
      info->set_host(node->host_id);
      info->set_state(StateToProto(node->state));
      for (const auto& p : node->exposed) info->add_protocols(p);
      for (const auto& p : node->offered) {
        if (std::find(node->exposed.begin(), node->exposed.end(), p) == node->exposed.end()) {
          info->add_protocols(p);
        }
      }
      info->set_restart_count(node->restarts);
      info->set_last_error(node->last_error);
      if (m.backends_) {
        if (auto backend = m.backends_->Status(node->path())) *info->mutable_backend() = *backend;
      }
    });
    finisher.Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* DriverManagerService::ListDrivers(grpc::CallbackServerContext* context,
                                                            const v1::ListDriversRequest*,
                                                            v1::ListDriversResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  UnaryFinisher finisher(reactor, kShuttingDown);
  (void)manager_->dispatcher_.Post([this, response, finisher = std::move(finisher)]() mutable {
    Manager& m = *manager_;
    std::map<std::string, std::vector<std::string>> bound;
    m.topology_.PreOrder(m.topology_.root(), [&](Node* node) {
      if (!node->driver.empty()) bound[node->driver].push_back(node->path());
    });
    for (const auto& [name, record] : m.drivers_) {
      v1::DriverInfo* info = response->add_drivers();
      const auto& manifest = record.file.manifest;
      info->set_name(name);
      info->set_binary(record.file.binary_path.string());
      info->set_colocation_group(manifest.colocation_group());
      for (const auto& path : bound[name]) info->add_bound_nodes(path);
      info->set_fallback(manifest.bind().fallback());
      info->set_priority(manifest.bind().priority());
      info->set_disabled(record.disabled);
    }
    finisher.Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* DriverManagerService::ListHosts(grpc::CallbackServerContext* context,
                                                          const v1::ListHostsRequest*,
                                                          v1::ListHostsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  UnaryFinisher finisher(reactor, kShuttingDown);
  (void)manager_->dispatcher_.Post([this, response, finisher = std::move(finisher)]() mutable {
    for (const auto& [id, host] : manager_->hosts_) {
      host::v1::HostInfo* info = response->add_hosts();
      info->set_host_id(id);
      info->set_pid(host->launched.pid > 0 ? static_cast<uint32_t>(host->launched.pid) : 0);
      info->set_colocation_group(host->group);
      for (const auto& path : host->nodes) info->add_node_paths(path);
      info->set_state(host->state);
      info->set_restart_count(host->restarts);
    }
    finisher.Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerWriteReactor<v1::TopologyEvent>* DriverManagerService::WatchEvents(
    grpc::CallbackServerContext*, const v1::WatchEventsRequest*) {
  auto [reactor, stream] = rpc::ServerStream<v1::TopologyEvent>::Create();
  // Initial metadata goes out once the watcher is registered: a client that
  // waits for it misses no later event.
  auto posted = manager_->dispatcher_.Post([this, stream] {
    manager_->watchers_.push_back(stream);
    stream->SendInitialMetadata();
  });
  if (!posted) stream->Finish(StatusOf(ErrorCode::kUnavailable, kShuttingDown));
  return reactor;
}

grpc::ServerUnaryReactor* DriverManagerService::RestartHost(grpc::CallbackServerContext* context,
                                                            const v1::RestartHostRequest* request,
                                                            v1::RestartHostResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  UnaryFinisher finisher(reactor, kShuttingDown);
  (void)manager_->dispatcher_.Post([this, request, response, finisher = std::move(finisher)]() mutable {
    Manager& m = *manager_;
    auto it = m.hosts_.find(request->host_id());
    if (it == m.hosts_.end()) {
      finisher.Finish(StatusOf(ErrorCode::kNotFound, "no host '" + request->host_id() + "'"));
      return;
    }
    auto& host = *it->second;
    auto* info = response->mutable_host();
    info->set_host_id(host.id);
    info->set_colocation_group(host.group);
    for (const auto& path : host.nodes) info->add_node_paths(path);
    info->set_state(host::v1::HOST_STATE_RESTARTING);
    info->set_restart_count(host.restarts);
    if (host.state == host::v1::HOST_STATE_RUNNING) {
      // Its exit is handled as a requested restart: same id, budgets reset,
      // every node restarted in place at once.
      host.restart_requested = true;
      m.launcher_->Kill(host.launched);
      finisher.Finish(grpc::Status::OK);
      return;
    }
    // A dead host: clear its nodes' quarantine and start them again.
    std::vector<std::string> paths(host.nodes.begin(), host.nodes.end());
    size_t restarted = 0;
    for (const auto& path : paths) {
      Node* node = m.topology_.Find(path);
      if (node == nullptr || node->state != NodeState::kQuarantined) continue;
      node->restarts = 0;
      m.RestartInPlace(node);
      ++restarted;
    }
    if (restarted == 0) {
      finisher.Finish(StatusOf(ErrorCode::kFailedPrecondition,
                               "host '" + host.id + "' is not running and has no quarantined nodes"));
      return;
    }
    finisher.Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* DriverManagerService::Bind(grpc::CallbackServerContext* context,
                                                     const v1::BindRequest* request,
                                                     v1::BindResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  UnaryFinisher finisher(reactor, kShuttingDown);
  if (auto subject = Manager::TlsSubject(context)) {
    finisher.Finish(StatusOf(ErrorCode::kPermissionDenied,
                             "certificate '" + *subject +
                                 "' may not bind nodes: remote clients cannot, the data path "
                                 "is the host's Unix socket"));
    return reactor;
  }
  auto peer = manager_->acceptor_->Lookup(context->peer());
  if (!peer) {
    finisher.Finish(StatusOf(ErrorCode::kUnauthenticated,
                             "cannot identify the caller's connection (" + context->peer() + ")"));
    return reactor;
  }
  (void)manager_->dispatcher_.Post([this, request, response, peer = *peer,
                                    finisher = std::move(finisher)]() mutable {
    Manager& m = *manager_;
    // A class instance ("class/block/000") names its node and protocol.
    std::string path = request->node_path();
    std::string protocol = request->protocol();
    if (path.starts_with("class/")) {
      auto instance = m.classes_.Find(path);
      if (!instance) {
        finisher.Finish(StatusOf(ErrorCode::kNotFound, "no class instance " + path));
        return;
      }
      path = instance->node_path();
      if (protocol.empty()) protocol = instance->protocol();
    }
    Node* node = m.topology_.Find(path);
    if (node == nullptr) {
      finisher.Finish(StatusOf(ErrorCode::kNotFound, "no node " + path));
      return;
    }
    auto serving = m.ServingNode(node, protocol);
    if (!serving) {
      finisher.Finish(ToStatus(serving.error()));
      return;
    }
    const auto& access = m.drivers_.at((*serving)->driver).file.manifest.access();
    if (auto allowed = CheckAccess(access, peer, node->path()); !allowed) {
      finisher.Finish(ToStatus(allowed.error()));
      return;
    }
    m.GrantClient(node, *serving, Manager::ServedProtocol(*node, protocol), peer,
                  Manager::AnswerWithGrant(std::move(finisher), [response](const auto& grant) {
                    response->set_endpoint(grant.endpoint);
                    response->set_token(grant.token);
                  }));
  });
  return reactor;
}

grpc::ServerUnaryReactor* DriverManagerService::Unbind(grpc::CallbackServerContext* context,
                                                       const v1::UnbindRequest* request,
                                                       v1::UnbindResponse*) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  UnaryFinisher finisher(reactor, kShuttingDown);
  (void)manager_->dispatcher_.Post([this, request, finisher = std::move(finisher)]() mutable {
    Manager& m = *manager_;
    auto it = m.client_tokens_.find(request->token());
    if (it == m.client_tokens_.end()) {
      finisher.Finish(StatusOf(ErrorCode::kNotFound, "unknown or already revoked token"));
      return;
    }
    m.RevokeClientToken(it);
    finisher.Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* DriverManagerService::BindDriver(grpc::CallbackServerContext* context,
                                                           const v1::BindDriverRequest* request,
                                                           v1::BindDriverResponse*) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  UnaryFinisher finisher(reactor, kShuttingDown);
  (void)manager_->dispatcher_.Post([this, request, finisher = std::move(finisher)]() mutable {
    Manager& m = *manager_;
    Node* node = m.topology_.Find(request->node_path());
    if (node == nullptr) {
      finisher.Finish(StatusOf(ErrorCode::kNotFound, "no node " + request->node_path()));
      return;
    }
    auto driver = m.drivers_.find(request->driver_name());
    if (driver == m.drivers_.end()) {
      finisher.Finish(StatusOf(ErrorCode::kNotFound, "no driver '" + request->driver_name() + "'"));
      return;
    }
    if (node->state != NodeState::kUnbound) {
      finisher.Finish(StatusOf(ErrorCode::kFailedPrecondition,
                               "node " + node->path() + " is already " +
                                   std::string(NodeStateName(node->state)) +
                                   (node->driver.empty() ? "" : " to driver '" + node->driver + "'")));
      return;
    }
    rpc::ProtoProperties properties;
    rpc::ToProto(node->properties(), &properties);
    RuleCheck check = MatchBindRules(driver->second.file.manifest.bind(), properties);
    if (!check.matched) {
      finisher.Finish(StatusOf(ErrorCode::kInvalidArgument, "driver '" + driver->first +
                                                                "' does not match " + node->path() +
                                                                ": " + check.reason));
      return;
    }
    if (auto cycle = m.CheckBindCycle(node, driver->first); !cycle) {
      finisher.Finish(ToStatus(cycle.error()));
      return;
    }
    auto shared = std::make_shared<UnaryFinisher>(std::move(finisher));
    m.StartDriver(node, driver->second,
                  [shared](Result<void> started) { shared->Finish(ToStatus(started)); });
  });
  return reactor;
}

}  // namespace trellis::manager
