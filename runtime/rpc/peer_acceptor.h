// PeerAcceptor: accepts connections on a gRPC server's Unix socket itself,
// reads each peer's identity (SO_PEERCRED, SO_PEERGROUPS) before gRPC sees
// a byte, then hands the fd to the server. Used by the manager and by every
// driver host for their client sockets.
//
// Handlers look the identity up by the call's peer string ("fd:N"). An entry
// remembers the socket's inode too, so an fd number that gRPC closed and the
// process reused for anything else never inherits the earlier peer's
// identity: Lookup answers nothing for it.
//
// Caps (the connection is closed at once, and counted, when one is hit):
// connections in all, and connections per peer process. A refused client
// sees its connection closed; gRPC reports UNAVAILABLE.
//
// Threading: accepts run on `dispatcher`, in batches of at most 32 per
// readiness — give it a dispatcher of its own, so that a connection storm
// delays nothing else; Lookup and stats from any thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "runtime/dispatcher.h"
#include "runtime/error.h"
#include "runtime/mutex.h"
#include "runtime/reactor.h"

namespace trellis::rpc {

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  // Supplementary groups at connect time (SO_PEERGROUPS), primary excluded.
  std::vector<gid_t> groups;

  // Whether the peer is in `group`, as its primary or a supplementary group.
  bool InGroup(gid_t group) const;
};

struct PeerAcceptorOptions {
  size_t max_connections = 1024;
  size_t max_connections_per_process = 64;
  // The socket file's mode: anyone may connect, authorization is per call.
  mode_t mode = 0666;
};

struct PeerAcceptorStats {
  uint64_t accepted = 0;
  uint64_t refused_over_total = 0;        // Over max_connections.
  uint64_t refused_over_per_process = 0;  // Over max_connections_per_process.
  size_t live = 0;                        // Connections open now.
};

class PeerAcceptor {
 public:
  // Binds and listens on `path` (an existing socket file is replaced).
  // Accepts run on `dispatcher` through `reactor`.
  // Errors: kInvalidArgument for a path too long for sockaddr_un; the
  // socket/bind/listen errno naming the path.
  static Result<std::unique_ptr<PeerAcceptor>> Listen(const std::string& path,
                                                       grpc::Server* server, Reactor& reactor,
                                                       UnownedDispatcher dispatcher,
                                                       PeerAcceptorOptions options = {});
  ~PeerAcceptor();

  // The identity of the connection a call arrived on, if it is still the
  // connection this acceptor accepted on that fd.
  std::optional<PeerCredentials> Lookup(const std::string& peer) const TRELLIS_EXCLUDES(mu_);
  // Sweeps out closed connections first (one fstat per connection).
  PeerAcceptorStats stats() TRELLIS_EXCLUDES(mu_);
  // Stops accepting (the listening socket is closed and unlinked).
  void Stop();

 private:
  struct Peer {
    PeerCredentials credentials;
    ino_t inode = 0;  // The socket's, to tell a reused fd number apart.
  };

  PeerAcceptor() = default;
  void Arm();
  void OnReadable();
  // Forgets connections gRPC has closed since.
  void SweepLocked() TRELLIS_REQUIRES(mu_);
  // Why a new connection from `pid` must be refused, if it must.
  std::optional<std::string> OverCapLocked(pid_t pid) TRELLIS_REQUIRES(mu_);

  std::string path_;
  PeerAcceptorOptions options_;
  int listen_fd_ = -1;
  grpc::Server* server_ = nullptr;
  Reactor* reactor_ = nullptr;
  UnownedDispatcher dispatcher_;
  Operation watch_;  // Touched on dispatcher_ only.
  mutable Mutex mu_;
  std::map<int, Peer> peers_ TRELLIS_GUARDED_BY(mu_);
  PeerAcceptorStats stats_ TRELLIS_GUARDED_BY(mu_);
  std::chrono::steady_clock::time_point last_refusal_log_ TRELLIS_GUARDED_BY(mu_);
};

}  // namespace trellis::rpc
