// HostRegistry: the driver instances of one host, by node path, and the
// client access grants (capability tokens) the manager has issued for them.
// Thread-safe: gRPC handlers of both services use it.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runtime/driver/device_protocol.h"
#include "runtime/error.h"
#include "runtime/host/block_queue_server.h"
#include "runtime/host/driver_instance.h"
#include "runtime/host/shared_region.h"
#include "runtime/mutex.h"
#include "runtime/rpc/peer_acceptor.h"
#include "runtime/task.h"

namespace trellis::host {

struct Grant {
  // The node the client bound to, and the node whose driver serves it (its
  // parent's for an offered protocol, else the same).
  std::string node_path;
  std::string server_path;
  std::string protocol;
  Caller caller;
  std::optional<std::chrono::system_clock::time_point> expires;
  // Memory the client shared under this token (SharedMemoryServer), by id;
  // dropped with the grant.
  std::map<uint64_t, std::shared_ptr<SharedRegion>> regions;
  // Block queues the client attached under this token, by id; stopped when
  // the grant goes.
  std::map<uint64_t, std::shared_ptr<BlockQueueServer>> queues;
};

class HostRegistry {
 public:
  // Errors: kAlreadyExists if a driver is already at that node.
  Result<void> Add(std::shared_ptr<DriverInstance> instance) TRELLIS_EXCLUDES(mu_);
  std::shared_ptr<DriverInstance> Find(const std::string& node_path) const TRELLIS_EXCLUDES(mu_);
  // Removes the instance and every grant for its node (their block queues
  // are stopped, and their clients told why).
  std::shared_ptr<DriverInstance> Remove(const std::string& node_path) TRELLIS_EXCLUDES(mu_);
  std::vector<std::shared_ptr<DriverInstance>> All() const TRELLIS_EXCLUDES(mu_);
  size_t size() const TRELLIS_EXCLUDES(mu_);

  static constexpr size_t kMaxRegionsPerToken = 16;

  void AddGrant(std::string token, Grant grant) TRELLIS_EXCLUDES(mu_);
  // Drops the grant; its block queues are stopped (their clients told why).
  void RevokeGrant(const std::string& token) TRELLIS_EXCLUDES(mu_);
  // Runs `observer` for every grant dropped from now on (revoked, or its
  // node's driver removed), outside the lock; null to stop.
  void SetGrantObserver(std::function<void(const Grant&)> observer) TRELLIS_EXCLUDES(mu_);
  // Resolves a client's token for `protocol` to the grant and the instance.
  // Errors: kUnauthenticated for a missing, unknown, revoked or expired
  // token; kPermissionDenied for a token of another protocol; kUnavailable
  // when the node's driver is not running here.
  Result<std::pair<Grant, std::shared_ptr<DriverInstance>>> Authorize(
      const std::string& token, std::string_view protocol) const TRELLIS_EXCLUDES(mu_);
  // Authorize for a client's call that arrived on the connection `peer`
  // (grpc's peer string): the connection must also belong to the grant's
  // client's user, or root — a token copied to another user is worthless.
  // Errors: as Authorize; kUnauthenticated when the connection's identity is
  // unknown; kPermissionDenied for another user's connection.
  Result<std::pair<Grant, std::shared_ptr<DriverInstance>>> AuthorizeCall(
      const std::string& token, std::string_view protocol, const std::string& peer) const
      TRELLIS_EXCLUDES(mu_);
  // How AuthorizeCall learns a connection's identity (the host's
  // PeerAcceptor); null: no client calls are authorized.
  using PeerLookup = std::function<std::optional<rpc::PeerCredentials>(const std::string& peer)>;
  void SetPeerLookup(PeerLookup lookup) TRELLIS_EXCLUDES(mu_);

  // Attaches a shared region to a live grant; returns its id (never 0).
  // Errors: kUnauthenticated as Authorize; kPermissionDenied if `uid` is
  // not the grant's client (nor root); kResourceExhausted past
  // kMaxRegionsPerToken.
  Result<uint64_t> AttachRegion(const std::string& token, uid_t uid,
                                std::shared_ptr<SharedRegion> region) TRELLIS_EXCLUDES(mu_);
  // Detaches it; requests already using it keep the mapping until they end.
  void DetachRegion(const std::string& token, uint64_t id) TRELLIS_EXCLUDES(mu_);
  // Errors: kNotFound for an id not attached under `token`.
  Result<std::shared_ptr<SharedRegion>> FindRegion(const std::string& token, uint64_t id) const
      TRELLIS_EXCLUDES(mu_);

  static constexpr size_t kMaxQueuesPerToken = 16;

  // Attaches a block queue (not yet started) to a live grant; returns its
  // id. Errors: as AttachRegion, with kMaxQueuesPerToken.
  Result<uint64_t> AttachQueue(const std::string& token, uid_t uid,
                               std::shared_ptr<BlockQueueServer> queue) TRELLIS_EXCLUDES(mu_);
  // Detaches and stops it (the client closed its side connection).
  void DetachQueue(const std::string& token, uint64_t id) TRELLIS_EXCLUDES(mu_);

 private:
  // The live grant for `token` that `uid` may attach memory to.
  Result<Grant*> GrantForAttach(const std::string& token, uid_t uid) TRELLIS_REQUIRES(mu_);
  // Stops the queues of grants that went away and tells the observer,
  // outside the lock.
  void Dropped(std::vector<Grant> grants, const std::string& why) TRELLIS_EXCLUDES(mu_);

  mutable Mutex mu_;
  std::map<std::string, std::shared_ptr<DriverInstance>> instances_ TRELLIS_GUARDED_BY(mu_);
  std::map<std::string, Grant> grants_ TRELLIS_GUARDED_BY(mu_);
  uint64_t next_id_ TRELLIS_GUARDED_BY(mu_) = 1;  // Of regions and queues.
  std::shared_ptr<std::function<void(const Grant&)>> observer_ TRELLIS_GUARDED_BY(mu_);
  std::shared_ptr<PeerLookup> peer_lookup_ TRELLIS_GUARDED_BY(mu_);
};

}  // namespace trellis::host
