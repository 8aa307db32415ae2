#include "manager/access/peer_acceptor.h"

#include <fcntl.h>
#include <grpcpp/server_posix.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <future>

namespace trellis::manager {

Result<std::unique_ptr<PeerAcceptor>> PeerAcceptor::Listen(const std::string& path,
                                                            grpc::Server* server, Reactor& reactor,
                                                            UnownedDispatcher dispatcher) {
  sockaddr_un addr{};
  if (path.size() >= sizeof(addr.sun_path)) {
    return Fail(ErrorCode::kInvalidArgument, "socket path " + path + " is too long");
  }
  std::unique_ptr<PeerAcceptor> acceptor(new PeerAcceptor());
  acceptor->path_ = path;
  acceptor->server_ = server;
  acceptor->reactor_ = &reactor;
  acceptor->dispatcher_ = dispatcher;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return FailErrno(errno, "socket for " + path);
  acceptor->listen_fd_ = fd;
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  unlink(path.c_str());
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return FailErrno(errno, "bind " + path);
  }
  // Anyone may connect: what a caller may do is decided per call from its
  // SO_PEERCRED identity (Bind checks the manifest's access).
  chmod(path.c_str(), 0666);
  if (listen(fd, 128) != 0) return FailErrno(errno, "listen on " + path);
  PeerAcceptor* raw = acceptor.get();
  std::promise<void> armed;
  TRELLIS_TRY(dispatcher.Post([raw, &armed] {
    raw->Arm();
    armed.set_value();
  }));
  armed.get_future().wait();
  return acceptor;
}

PeerAcceptor::~PeerAcceptor() { Stop(); }

void PeerAcceptor::Stop() {
  if (listen_fd_ < 0) return;
  std::promise<void> stopped;
  auto posted = dispatcher_.Post([this, &stopped] {
    watch_ = Operation();
    stopped.set_value();
  });
  if (posted) stopped.get_future().wait();
  close(listen_fd_);
  listen_fd_ = -1;
  unlink(path_.c_str());
}

void PeerAcceptor::Arm() {
  auto op = reactor_->FdReady(listen_fd_, POLLIN, [this](Completion c) {
    if (c.result < 0) return;  // Cancelled: we are stopping.
    OnReadable();
  });
  if (op) watch_ = std::move(*op);
}

void PeerAcceptor::OnReadable() {
  for (;;) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) break;  // EAGAIN: drained. Other errors: try again on next readiness.
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
      close(fd);
      continue;
    }
    {
      MutexLock lock(mu_);
      peers_[fd] = PeerCredentials{.pid = cred.pid, .uid = cred.uid, .gid = cred.gid};
    }
    grpc::AddInsecureChannelFromFd(server_, fd);
  }
  Arm();
}

std::optional<PeerCredentials> PeerAcceptor::Lookup(const std::string& peer) const {
  if (peer.rfind("fd:", 0) != 0) return std::nullopt;
  int fd = std::atoi(peer.c_str() + 3);
  MutexLock lock(mu_);
  auto it = peers_.find(fd);
  if (it == peers_.end()) return std::nullopt;
  return it->second;
}

}  // namespace trellis::manager
