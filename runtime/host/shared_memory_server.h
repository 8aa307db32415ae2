// SharedMemoryServer: the host's side channel for shared memory. gRPC cannot
// carry file descriptors, so a client that wants payloads outside protobuf
// connects to a Unix socket beside the host's endpoint (its path plus
// ".shm") and, per region, sends one message:
//
//   data:  the token DriverManager.Bind returned (1..256 bytes)
//   SCM_RIGHTS: one memfd, sealed with F_SEAL_SHRINK (see SharedRegion)
//
// and reads one line back: "ok <region id>\n", or "error <gRPC code>
// <message>\n". The region stays attached to the token until the client
// closes the connection (or dies), or the token is revoked. The peer's uid
// (SO_PEERCRED) must be the token's client's, or root.
//
// A second message attaches a block queue in a region (BlockQueueServer;
// the format is in runtime/block_queue_wire.h): "queue <region id> <ring
// offset> <size> <token>" with two eventfds. It lives as long as the
// regions, and the host may later send "stopped ..." on the connection.
//
// Threading: one thread of its own polls the listening socket and its
// connections; messages are tiny and rare (one per region), so this is not a
// data path. Regions go to the HostRegistry, which serves them to requests.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "runtime/error.h"
#include "runtime/host/host_registry.h"
#include "runtime/unique_fd.h"

namespace trellis::host {

class SharedMemoryServer {
 public:
  static constexpr size_t kMaxConnections = 256;

  // Listens on `path` (replacing a stale socket file).
  static Result<std::unique_ptr<SharedMemoryServer>> Listen(std::string path,
                                                            HostRegistry* registry);
  ~SharedMemoryServer();  // Stops the thread; closes every connection.

  // The side socket of a host whose client endpoint is `endpoint`
  // ("unix:/run/.../h-1.sock" → "/run/.../h-1.sock.shm"); empty if it is not a
  // Unix socket.
  static std::string PathFor(const std::string& endpoint);

 private:
  struct Connection {
    uid_t uid = 0;
    // Regions and queues this connection attached: token → ids, detached
    // on close.
    std::multimap<std::string, uint64_t> regions;
    std::multimap<std::string, uint64_t> queues;
  };

  SharedMemoryServer(std::string path, int listen_fd, int stop_fd, HostRegistry* registry)
      : path_(std::move(path)), listen_fd_(listen_fd), stop_fd_(stop_fd), registry_(registry) {}
  void Run();
  void Accept();
  // Handles one message; false when the connection should close.
  bool Serve(int fd, Connection& connection);
  // The message's id, or the error to answer with. Takes the fds it keeps.
  Result<uint64_t> Handle(int fd, Connection& connection, std::string_view data,
                          std::vector<UniqueFd>& fds);
  Result<uint64_t> AttachRegion(Connection& connection, std::string_view token,
                                std::vector<UniqueFd>& fds);
  Result<uint64_t> AttachQueue(int fd, Connection& connection, std::string_view args,
                               std::vector<UniqueFd>& fds);
  void Close(int fd, Connection& connection);

  const std::string path_;
  const int listen_fd_;
  const int stop_fd_;  // eventfd: written to stop the thread.
  HostRegistry* const registry_;
  std::map<int, Connection> connections_;  // Touched only by thread_.
  std::thread thread_;
};

}  // namespace trellis::host
