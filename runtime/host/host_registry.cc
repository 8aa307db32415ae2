#include "runtime/host/host_registry.h"

namespace trellis::host {

Result<void> HostRegistry::Add(std::shared_ptr<DriverInstance> instance) {
  MutexLock lock(mu_);
  std::string path = instance->node_path();
  if (!instances_.emplace(path, std::move(instance)).second) {
    return Fail(ErrorCode::kAlreadyExists, "a driver is already running at node " + path);
  }
  return Ok();
}

std::shared_ptr<DriverInstance> HostRegistry::Find(const std::string& node_path) const {
  MutexLock lock(mu_);
  auto it = instances_.find(node_path);
  return it == instances_.end() ? nullptr : it->second;
}

std::shared_ptr<DriverInstance> HostRegistry::Remove(const std::string& node_path) {
  std::vector<Grant> dropped;
  std::shared_ptr<DriverInstance> instance;
  {
    MutexLock lock(mu_);
    for (auto it = grants_.begin(); it != grants_.end();) {
      Grant& grant = it->second;
      if (grant.node_path != node_path && grant.server_path != node_path) {
        ++it;
        continue;
      }
      dropped.push_back(std::move(grant));
      it = grants_.erase(it);
    }
    auto it = instances_.find(node_path);
    if (it != instances_.end()) {
      instance = std::move(it->second);
      instances_.erase(it);
    }
  }
  Dropped(std::move(dropped), "the driver of node " + node_path + " stopped");
  return instance;
}

std::vector<std::shared_ptr<DriverInstance>> HostRegistry::All() const {
  MutexLock lock(mu_);
  std::vector<std::shared_ptr<DriverInstance>> all;
  for (const auto& [path, instance] : instances_) all.push_back(instance);
  return all;
}

size_t HostRegistry::size() const {
  MutexLock lock(mu_);
  return instances_.size();
}

void HostRegistry::AddGrant(std::string token, Grant grant) {
  MutexLock lock(mu_);
  grants_[std::move(token)] = std::move(grant);
}

void HostRegistry::RevokeGrant(const std::string& token) {
  std::vector<Grant> dropped;
  {
    MutexLock lock(mu_);
    auto it = grants_.find(token);
    if (it == grants_.end()) return;
    dropped.push_back(std::move(it->second));
    grants_.erase(it);
  }
  Dropped(std::move(dropped), "the token was revoked");
}

void HostRegistry::SetGrantObserver(std::function<void(const Grant&)> observer) {
  MutexLock lock(mu_);
  observer_ =
      observer ? std::make_shared<std::function<void(const Grant&)>>(std::move(observer)) : nullptr;
}

void HostRegistry::Dropped(std::vector<Grant> grants, const std::string& why) {
  std::shared_ptr<std::function<void(const Grant&)>> observer;
  {
    MutexLock lock(mu_);
    observer = observer_;
  }
  for (const Grant& grant : grants) {
    for (const auto& [id, queue] : grant.queues) queue->Stop(Error(ErrorCode::kUnavailable, why));
    if (observer) (*observer)(grant);
  }
}

Result<std::pair<Grant, std::shared_ptr<DriverInstance>>> HostRegistry::Authorize(
    const std::string& token, std::string_view protocol) const {
  if (token.empty()) {
    return Fail(ErrorCode::kUnauthenticated,
                "missing 'trellis-token' metadata: call DriverManager.Bind first");
  }
  MutexLock lock(mu_);
  auto it = grants_.find(token);
  if (it == grants_.end()) {
    return Fail(ErrorCode::kUnauthenticated, "unknown or revoked token");
  }
  const Grant& grant = it->second;
  if (grant.expires && std::chrono::system_clock::now() > *grant.expires) {
    return Fail(ErrorCode::kUnauthenticated, "token expired");
  }
  if (grant.protocol != protocol) {
    return Fail(ErrorCode::kPermissionDenied, "token is bound to protocol '" + grant.protocol +
                                                  "', not '" + std::string(protocol) + "'");
  }
  auto instance = instances_.find(grant.server_path);
  if (instance == instances_.end()) {
    return Fail(ErrorCode::kUnavailable, "no driver is running at node " + grant.server_path);
  }
  return std::make_pair(grant, instance->second);
}

Result<std::pair<Grant, std::shared_ptr<DriverInstance>>> HostRegistry::AuthorizeCall(
    const std::string& token, std::string_view protocol, const std::string& peer) const {
  std::shared_ptr<PeerLookup> lookup;
  {
    MutexLock lock(mu_);
    lookup = peer_lookup_;
  }
  std::optional<rpc::PeerCredentials> who = lookup ? (*lookup)(peer) : std::nullopt;
  if (!who) {
    return Fail(ErrorCode::kUnauthenticated, "the connection's identity is unknown (" + peer + ")");
  }
  TRELLIS_ASSIGN_OR_RETURN(auto authorized, Authorize(token, protocol));
  const Caller& owner = authorized.first.caller;
  if (who->uid != 0 && who->uid != owner.uid) {
    return Fail(ErrorCode::kPermissionDenied,
                "the token was granted to uid " + std::to_string(owner.uid) +
                    "; this call comes from uid " + std::to_string(who->uid) + " (pid " +
                    std::to_string(who->pid) + ")");
  }
  authorized.second->CountClientCall();
  return authorized;
}

void HostRegistry::SetPeerLookup(PeerLookup lookup) {
  MutexLock lock(mu_);
  peer_lookup_ = lookup ? std::make_shared<PeerLookup>(std::move(lookup)) : nullptr;
}

Result<Grant*> HostRegistry::GrantForAttach(const std::string& token, uid_t uid) {
  auto it = grants_.find(token);
  if (token.empty() || it == grants_.end()) {
    return Fail(ErrorCode::kUnauthenticated, "unknown or revoked token");
  }
  Grant& grant = it->second;
  if (uid != 0 && uid != grant.caller.uid) {
    return Fail(ErrorCode::kPermissionDenied,
                "uid " + std::to_string(uid) +
                    " may not share memory under a token issued to uid " +
                    std::to_string(grant.caller.uid));
  }
  return &grant;
}

Result<uint64_t> HostRegistry::AttachRegion(const std::string& token, uid_t uid,
                                            std::shared_ptr<SharedRegion> region) {
  MutexLock lock(mu_);
  TRELLIS_ASSIGN_OR_RETURN(Grant * grant, GrantForAttach(token, uid));
  if (grant->regions.size() >= kMaxRegionsPerToken) {
    return Fail(ErrorCode::kResourceExhausted, "a token may have at most " +
                                                   std::to_string(kMaxRegionsPerToken) +
                                                   " shared regions attached");
  }
  uint64_t id = next_id_++;
  grant->regions.emplace(id, std::move(region));
  return id;
}

Result<uint64_t> HostRegistry::AttachQueue(const std::string& token, uid_t uid,
                                           std::shared_ptr<BlockQueueServer> queue) {
  MutexLock lock(mu_);
  TRELLIS_ASSIGN_OR_RETURN(Grant * grant, GrantForAttach(token, uid));
  if (grant->queues.size() >= kMaxQueuesPerToken) {
    return Fail(ErrorCode::kResourceExhausted, "a token may have at most " +
                                                   std::to_string(kMaxQueuesPerToken) +
                                                   " block queues attached");
  }
  uint64_t id = next_id_++;
  grant->queues.emplace(id, std::move(queue));
  return id;
}

void HostRegistry::DetachQueue(const std::string& token, uint64_t id) {
  std::shared_ptr<BlockQueueServer> queue;
  {
    MutexLock lock(mu_);
    auto it = grants_.find(token);
    if (it == grants_.end()) return;
    auto found = it->second.queues.find(id);
    if (found == it->second.queues.end()) return;
    queue = std::move(found->second);
    it->second.queues.erase(found);
  }
  queue->Stop(std::nullopt);  // The client is gone: nobody to tell.
}

void HostRegistry::DetachRegion(const std::string& token, uint64_t id) {
  std::shared_ptr<SharedRegion> dropped;  // Unmapped outside the lock.
  MutexLock lock(mu_);
  auto it = grants_.find(token);
  if (it == grants_.end()) return;
  auto region = it->second.regions.find(id);
  if (region == it->second.regions.end()) return;
  dropped = std::move(region->second);
  it->second.regions.erase(region);
}

Result<std::shared_ptr<SharedRegion>> HostRegistry::FindRegion(const std::string& token,
                                                               uint64_t id) const {
  MutexLock lock(mu_);
  auto it = grants_.find(token);
  if (it != grants_.end()) {
    auto region = it->second.regions.find(id);
    if (region != it->second.regions.end()) return region->second;
  }
  return Fail(ErrorCode::kNotFound,
              "no shared region " + std::to_string(id) + " is attached under this token");
}

}  // namespace trellis::host
