// Manager: client tokens — which driver serves a protocol at a node (its own
// or, for an offer, its parent's) and the grant on that driver's host.
#include <algorithm>

#include "manager/manager.h"
#include "runtime/rpc/async_call.h"
#include "runtime/rpc/status.h"

namespace trellis::manager {

namespace {

bool Contains(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

std::string Join(const std::vector<std::string>& list) {
  std::string out;
  for (const auto& item : list) out += (out.empty() ? "" : ", ") + item;
  return out.empty() ? "nothing" : out;
}

}  // namespace

Result<Node*> Manager::ServingNode(Node* node, const std::string& protocol, bool starting_ok) {
  Node* serving = node;
  if (node->composite && Contains(node->offered, protocol)) {
    // "<parent name>/<protocol>": that parent's node serves it.
    const std::string name = protocol.substr(0, protocol.find('/'));
    serving = nullptr;
    for (const auto& [parent, path] : node->composite_parents) {
      if (parent == name) serving = topology_.Find(path);
    }
    if (serving == nullptr) {
      return Fail(ErrorCode::kUnavailable,
                  "composite " + node->path() + ": parent '" + name + "' went away");
    }
  } else if (Contains(node->offered, protocol) && node->parent() != nullptr) {
    serving = node->parent();
  } else if (node->state == NodeState::kBound && !Contains(node->exposed, protocol)) {
    std::vector<std::string> all = node->offered;
    for (const auto& p : node->exposed) {
      if (!Contains(all, p)) all.push_back(p);
    }
    return Fail(ErrorCode::kNotFound, "node " + node->path() + " does not serve '" + protocol +
                                          "' (it serves: " + Join(all) + ")");
  }
  bool running =
      serving->state == NodeState::kBound || (starting_ok && serving->state == NodeState::kBinding);
  if (!running) {
    return Fail(ErrorCode::kFailedPrecondition,
                "node " + serving->path() + " has no running driver (state: " +
                    std::string(NodeStateName(serving->state)) + ")");
  }
  return serving;
}

std::string Manager::ServedProtocol(const Node& node, const std::string& protocol) {
  auto slash = protocol.find('/');
  return node.composite && slash != std::string::npos ? protocol.substr(slash + 1) : protocol;
}

void Manager::GrantClient(Node* node, Node* serving, const std::string& protocol,
                          const PeerCredentials& caller,
                          std::move_only_function<void(Result<ClientGrant>)> done) {
  if (caller.pid != 0 &&
      static_cast<size_t>(std::ranges::count_if(client_tokens_, [&](const auto& entry) {
        return entry.second.pid == caller.pid;
      })) >= kMaxBindingsPerClient) {
    done(Fail(ErrorCode::kResourceExhausted,
              "process " + std::to_string(caller.pid) + " already holds " +
                  std::to_string(kMaxBindingsPerClient) + " bindings; Unbind some first"));
    return;
  }
  auto& host = *hosts_.at(serving->host_id);
  std::string token = NewToken();
  host::v1::GrantAccessRequest grant;
  grant.set_token(token);
  grant.set_node_path(node->path());
  grant.set_protocol(protocol);
  grant.set_client_id(next_client_++);
  grant.set_uid(caller.uid);
  grant.set_gid(caller.gid);
  grant.set_pid(static_cast<uint32_t>(caller.pid));
  if (serving != node) grant.set_server_node_path(serving->path());
  // A host listens for clients from launch; the endpoint is recorded when
  // its first driver has started.
  std::string endpoint = host.endpoint.empty() ? "unix:" + host.client_socket : host.endpoint;
  auto* stub = host.stub.get();
  BeginWork();  // The manager outlives this call (see ~Manager).
  rpc::CallAsync<host::v1::GrantAccessRequest, host::v1::GrantAccessResponse>(
      std::chrono::milliseconds(5000), std::move(grant),
      [stub](auto* ctx, auto* req, auto* resp, auto cb) {
        stub->async()->GrantAccess(ctx, req, resp, std::move(cb));
      },
      [this, token, path = node->path(), serving_path = serving->path(), protocol,
       host_id = host.id, endpoint, pid = caller.pid,
       done = std::move(done)](grpc::Status status, host::v1::GrantAccessResponse) mutable {
        auto posted =
            dispatcher_.Post([this, token, path, serving_path, protocol, host_id, endpoint, pid,
                              status = std::move(status), done = std::move(done)]() mutable {
              if (!status.ok()) {
                done(Fail(rpc::FromStatus(status, "granting access on host " + host_id)));
              } else if (Node* serving = topology_.Find(serving_path);
                         topology_.Find(path) == nullptr || serving == nullptr ||
                         serving->host_id != host_id ||
                         (serving->state != NodeState::kBound &&
                          serving->state != NodeState::kBinding)) {
                done(Fail(ErrorCode::kUnavailable, "node " + path + " went away while binding"));
              } else {
                client_tokens_[token] = {path, protocol, host_id, pid};
                done(ClientGrant{.endpoint = endpoint, .token = token, .host_id = host_id});
              }
              EndWork();
            });
        if (!posted) EndWork();
      });
}

}  // namespace trellis::manager
