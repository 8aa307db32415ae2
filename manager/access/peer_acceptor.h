// PeerAcceptor: accepts connections on the manager's Unix socket itself,
// reads each peer's SO_PEERCRED before gRPC sees a byte, then hands the fd to
// the gRPC server. Handlers look the identity up by the call's peer string
// ("fd:N"). An accept overwrites the entry for its fd number, so a reused fd
// never inherits an earlier peer's identity.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>

#include <grpcpp/grpcpp.h>

#include "runtime/dispatcher.h"
#include "runtime/error.h"
#include "runtime/mutex.h"
#include "runtime/reactor.h"

namespace trellis::manager {

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

class PeerAcceptor {
 public:
  // Binds and listens on `path` (an existing socket file is replaced; mode
  // 0666: authorization is per call, from the peer's identity). Accepts run on `dispatcher` through `reactor`.
  static Result<std::unique_ptr<PeerAcceptor>> Listen(const std::string& path,
                                                       grpc::Server* server, Reactor& reactor,
                                                       UnownedDispatcher dispatcher);
  ~PeerAcceptor();

  // The identity of the connection a call arrived on, if known.
  std::optional<PeerCredentials> Lookup(const std::string& peer) const TRELLIS_EXCLUDES(mu_);
  // Stops accepting (the listening socket is closed).
  void Stop();

 private:
  PeerAcceptor() = default;
  void Arm();
  void OnReadable();

  std::string path_;
  int listen_fd_ = -1;
  grpc::Server* server_ = nullptr;
  Reactor* reactor_ = nullptr;
  UnownedDispatcher dispatcher_;
  Operation watch_;  // Touched on dispatcher_ only.
  mutable Mutex mu_;
  std::map<int, PeerCredentials> peers_ TRELLIS_GUARDED_BY(mu_);
};

}  // namespace trellis::manager
