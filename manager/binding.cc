// Manager: binding drivers to nodes, children added by drivers, and removal.
#include <algorithm>
#include <cstdio>

#include "manager/join.h"
#include "manager/manager.h"
#include "runtime/rpc/async_call.h"
#include "runtime/rpc/properties.h"
#include "runtime/rpc/status.h"

namespace trellis::manager {

using manager::v1::TopologyEvent;

void Manager::BindNode(Node* node) {
  if (shutting_down_ || node == topology_.root() || node->state != NodeState::kUnbound) return;
  // Bound once its backend is ready; see StartBackends.
  if (backends_ && backends_->Gating(node->path())) return;
  Selection selection = SelectFor(*node);
  if (!selection.driver) return;  // Stays unbound; `trellisctl why` explains.
  if (auto cycle = CheckBindCycle(node, *selection.driver); !cycle) {
    node->last_error = cycle.error().message();
    Publish(TopologyEvent::KIND_DRIVER_STOPPED, node, node->last_error);
    return;
  }
  StartDriver(node, drivers_.at(*selection.driver));
}

Result<void> Manager::CheckBindCycle(Node* node, const std::string& driver) const {
  for (Node* up = node->parent(); up != nullptr; up = up->parent()) {
    if (up->driver == driver && up->properties() == node->properties()) {
      return Fail(ErrorCode::kFailedPrecondition,
                  "bind cycle: driver '" + driver + "' is already bound at " + up->path() +
                      " with the same properties as " + node->path() +
                      "; binding would repeat " + up->path() + " -> ... -> " + node->path() +
                      " forever");
    }
  }
  return Ok();
}

void Manager::StartDriver(Node* node, const DriverRecord& driver,
                          std::move_only_function<void(Result<void>)> done) {
  const auto& manifest = driver.file.manifest;
  auto host = EnsureHost(*node, manifest.colocation_group());
  if (!host) {
    node->last_error = "no host: " + host.error().message();
    Publish(TopologyEvent::KIND_DRIVER_STOPPED, node, node->last_error);
    if (done) done(Fail(host.error()));
    return;
  }
  HostRecord& record = **host;
  node->state = NodeState::kBinding;
  node->driver = manifest.name();
  node->host_id = record.id;
  node->token = NewToken();
  node_tokens_[node->token] = node->path();
  record.nodes.insert(node->path());
  Publish(TopologyEvent::KIND_DRIVER_BOUND, node, "");

  host::v1::StartDriverRequest request;
  request.set_driver_name(manifest.name());
  request.set_binary_path(driver.file.binary_path.string());
  request.set_node_path(node->path());
  request.set_node_token(node->token);
  rpc::ToProto(node->properties(), request.mutable_properties());
  if (manifest.has_config()) *request.mutable_config() = manifest.config();
  request.set_power_managed(manifest.power().managed_dispatchers());
  request.set_wake_capable(manifest.power().wake_capable());
  for (const auto& p : manifest.exposes()) request.add_exposes(p);

  BeginWork();
  auto* stub = record.stub.get();
  rpc::CallAsync<host::v1::StartDriverRequest, host::v1::StartDriverResponse>(
      options_.start_timeout, std::move(request),
      [stub](auto* ctx, auto* req, auto* resp, auto cb) {
        stub->async()->StartDriver(ctx, req, resp, std::move(cb));
      },
      [this, path = node->path(), generation = record.generation, done = std::move(done)](
          grpc::Status status, host::v1::StartDriverResponse response) mutable {
        auto posted = dispatcher_.Post([this, path, generation, status = std::move(status),
                                        response = std::move(response),
                                        done = std::move(done)]() mutable {
          OnDriverStarted(path, generation, status, response, std::move(done));
          EndWork();
        });
        if (!posted) EndWork();
      });
}

void Manager::OnDriverStarted(const std::string& path, uint64_t generation, grpc::Status status,
                              const host::v1::StartDriverResponse& response,
                              std::move_only_function<void(Result<void>)> done) {
  Node* node = topology_.Find(path);
  auto host_it = node ? hosts_.find(node->host_id) : hosts_.end();
  if (node == nullptr || node->state != NodeState::kBinding || host_it == hosts_.end() ||
      host_it->second->generation != generation) {
    if (done) done(Fail(ErrorCode::kAborted, "node " + path + " changed while its driver started"));
    return;
  }
  HostRecord& host = *host_it->second;
  if (status.ok()) {
    node->state = NodeState::kBound;
    ++node->starts;
    node->last_error.clear();
    node->exposed.assign(response.exposed_protocols().begin(), response.exposed_protocols().end());
    host.endpoint = response.endpoint();
    Publish(TopologyEvent::KIND_DRIVER_STARTED, node, "");
    if (done) done(Ok());
    return;
  }
  Error error = rpc::FromStatus(status, "starting driver '" + node->driver + "' at " + path);
  node->last_error = error.message();
  if (done) done(Fail(error));
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    // A driver hung in Start: kill its host and handle it as a crash.
    launcher_->Kill(host.launched);
    return;
  }
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) return;  // Host died: see OnHostExit.
  // The driver refused to start; the node stays, unbound. Children it added
  // before failing go away with their drivers.
  Publish(TopologyEvent::KIND_DRIVER_STOPPED, node, error.message());
  node->state = NodeState::kRemoving;
  RemoveSubtree(node, /*keep_root=*/true, [this, path] {
    Node* node = topology_.Find(path);
    if (node == nullptr) return;
    auto host = hosts_.find(node->host_id);
    if (host != hosts_.end()) host->second->nodes.erase(path);
    ReleaseHostIfIdle(std::string(node->host_id));
    node_tokens_.erase(node->token);
    node->state = NodeState::kUnbound;
    node->driver.clear();
    node->host_id.clear();
    node->token.clear();
  });
}

Result<Node*> Manager::AddChildFromDriver(const std::string& node_token, std::string name,
                                          NodeProperties properties,
                                          std::vector<std::string> offered) {
  auto it = node_tokens_.find(node_token);
  if (it == node_tokens_.end()) {
    return Fail(ErrorCode::kUnauthenticated, "unknown or revoked node token");
  }
  Node* parent = topology_.Find(it->second);
  if (parent == nullptr ||
      (parent->state != NodeState::kBinding && parent->state != NodeState::kBound)) {
    return Fail(ErrorCode::kFailedPrecondition, "node " + it->second + " is not bound");
  }
  // A driver offers only what its manifest exposes (the host checks too).
  const auto& exposes = drivers_.at(parent->driver).file.manifest.exposes();
  for (const auto& protocol : offered) {
    if (std::find(exposes.begin(), exposes.end(), protocol) == exposes.end()) {
      return Fail(ErrorCode::kInvalidArgument,
                  "driver '" + parent->driver + "' offers '" + protocol + "' on child '" + name +
                      "', but its manifest does not expose it");
    }
  }
  TRELLIS_ASSIGN_OR_RETURN(Node * child, topology_.AddChild(parent, std::move(name), std::move(properties)));
  child->added_by_driver = true;
  child->offered = std::move(offered);
  Publish(TopologyEvent::KIND_NODE_ADDED, child, "added by " + parent->driver);
  BindNode(child);
  return child;
}

void Manager::RevokeClientTokensFor(const std::string& node_path) {
  for (auto it = client_tokens_.begin(); it != client_tokens_.end();) {
    auto next = std::next(it);
    if (it->second.node_path == node_path) RevokeClientToken(it);
    it = next;
  }
}

void Manager::RevokeClientToken(std::map<std::string, ClientToken>::iterator it) {
  auto host = hosts_.find(it->second.host_id);
  if (host != hosts_.end() && host->second->stub &&
      host->second->state == host::v1::HOST_STATE_RUNNING) {
    host::v1::RevokeAccessRequest request;
    request.set_token(it->first);
    auto* stub = host->second->stub.get();
    rpc::CallAsync<host::v1::RevokeAccessRequest, host::v1::RevokeAccessResponse>(
        std::chrono::milliseconds(2000), std::move(request),
        [stub](auto* ctx, auto* req, auto* resp, auto cb) {
          stub->async()->RevokeAccess(ctx, req, resp, std::move(cb));
        },
        [](grpc::Status, host::v1::RevokeAccessResponse) {});
  }
  client_tokens_.erase(it);
}

void Manager::RemoveSubtree(Node* root, bool keep_root, std::move_only_function<void()> done) {
  // Composites with a parent in this subtree go first: they use it.
  std::vector<std::string> composites;
  for (const auto& path : CompositesOf(root->path())) {
    if (!path.starts_with(root->path() + ".")) composites.push_back(path);
  }
  if (!composites.empty()) {
    auto removed = JoinAfter(
        composites.size(),
        [this, path = root->path(), keep_root, done = std::move(done)]() mutable {
          if (Node* root = topology_.Find(path)) {
            RemoveSubtree(root, keep_root, std::move(done));
          } else if (done) {
            done();
          }
        });
    for (const auto& path : composites) {
      RemoveSubtree(topology_.Find(path), /*keep_root=*/false, removed);
    }
    return;
  }
  std::vector<std::string> order;  // Deepest first, for the final removal.
  topology_.PostOrder(root, [&](Node* node) {
    if (keep_root && node == root) return;
    node->state = NodeState::kRemoving;
    order.push_back(node->path());
  });
  BeginWork();
  StopTree(root->path(), /*stop_self=*/!keep_root,
           [this, order = std::move(order), done = std::move(done)]() mutable {
             for (const std::string& path : order) {
               Node* node = topology_.Find(path);
               if (node == nullptr) continue;
               Publish(TopologyEvent::KIND_NODE_REMOVED, node, "");
               if (node->composite) ForgetComposite(path);
               topology_.Remove(node);
             }
             if (done) done();
             EndWork();
           });
}

void Manager::StopTree(const std::string& path, bool stop_self, std::move_only_function<void()> done) {
  Node* node = topology_.Find(path);
  if (node == nullptr) {
    done();
    return;
  }
  auto then = [this, path, stop_self, done = std::move(done)]() mutable {
    if (stop_self) {
      StopNodeDriver(path, std::move(done));
    } else {
      done();
    }
  };
  if (node->children().empty()) {
    then();
    return;
  }
  // Children before parents; independent subtrees in parallel.
  auto stopped = JoinAfter(node->children().size(), std::move(then));
  std::vector<std::string> children;
  for (const auto& [name, child] : node->children()) children.push_back(child->path());
  for (const std::string& child : children) StopTree(child, /*stop_self=*/true, stopped);
}

void Manager::StopNodeDriver(const std::string& path, std::move_only_function<void()> done) {
  // `why` is the stop event's detail.
  auto after_stop = [this, path](const std::string& why) {
    Node* node = topology_.Find(path);
    if (node == nullptr) return;
    node_tokens_.erase(node->token);
    RevokeClientTokensFor(path);
    governor_->ReleaseLeasesOf(path);
    auto host = hosts_.find(node->host_id);
    if (host != hosts_.end()) host->second->nodes.erase(path);
    if (!node->driver.empty()) Publish(TopologyEvent::KIND_DRIVER_STOPPED, node, why);
    ReleaseHostIfIdle(std::string(node->host_id));
  };
  Node* node = topology_.Find(path);
  auto host = node ? hosts_.find(node->host_id) : hosts_.end();
  bool live = node != nullptr && host != hosts_.end() && host->second->stub &&
              host->second->state == host::v1::HOST_STATE_RUNNING && !node->driver.empty();
  if (!live) {
    after_stop("removed");
    done();
    return;
  }
  host::v1::StopDriverRequest request;
  request.set_node_path(path);
  auto* stub = host->second->stub.get();
  auto deadline = options_.stop_timeout;
  if (auto record = drivers_.find(node->driver);
      record != drivers_.end() && record->second.file.manifest.stop_timeout_ms() > 0) {
    deadline = std::chrono::milliseconds(record->second.file.manifest.stop_timeout_ms());
  }
  BeginWork();
  rpc::CallAsync<host::v1::StopDriverRequest, host::v1::StopDriverResponse>(
      deadline, std::move(request),
      [stub](auto* ctx, auto* req, auto* resp, auto cb) {
        stub->async()->StopDriver(ctx, req, resp, std::move(cb));
      },
      [this, path, host_id = node->host_id, generation = host->second->generation, deadline,
       after_stop, done = std::move(done)](grpc::Status status,
                                           host::v1::StopDriverResponse) mutable {
        auto posted = dispatcher_.Post([this, path, host_id, generation, deadline, status,
                                        after_stop, done = std::move(done)]() mutable {
          std::string why = "removed";
          if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
            // A driver hung in PrepareStop or Stop: its host goes, as for a
            // hung suspend; its other nodes are then handled as a crash.
            auto host = hosts_.find(host_id);
            if (host != hosts_.end() && host->second->generation == generation) {
              why = "did not stop within " + std::to_string(deadline.count()) + " ms; host " +
                    host_id + " killed";
              if (Node* node = topology_.Find(path)) node->last_error = why;
              launcher_->Kill(host->second->launched);
            }
          }
          after_stop(why);
          done();
          EndWork();
        });
        if (!posted) EndWork();
      });
}

Result<std::string> Manager::NodeOfToken(const std::string& token) const {
  auto owner = node_tokens_.find(token);
  if (owner == node_tokens_.end()) {
    return Fail(ErrorCode::kUnauthenticated, "unknown or revoked node token");
  }
  return owner->second;
}

}  // namespace trellis::manager
