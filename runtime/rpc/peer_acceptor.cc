#include "runtime/rpc/peer_acceptor.h"

#include <fcntl.h>
#include <grpcpp/server_posix.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <future>

namespace trellis::rpc {

namespace {

// The peer's supplementary groups at connect time; empty if the kernel
// cannot tell (then only the primary group counts).
std::vector<gid_t> PeerGroups(int fd) {
  std::vector<gid_t> groups(16);
  for (int attempt = 0; attempt < 2; ++attempt) {
    socklen_t len = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &len) == 0) {
      groups.resize(len / sizeof(gid_t));
      return groups;
    }
    if (errno != ERANGE) break;
    groups.resize(len / sizeof(gid_t) + 1);
  }
  return {};
}

constexpr int kAcceptBatch = 32;
// After the first ten, refusals are logged at most this often.
constexpr auto kRefusalLogInterval = std::chrono::seconds(10);

ino_t InodeOf(int fd) {
  struct stat st {};
  return fstat(fd, &st) == 0 ? st.st_ino : 0;
}

}  // namespace

bool PeerCredentials::InGroup(gid_t group) const {
  return gid == group || std::find(groups.begin(), groups.end(), group) != groups.end();
}

Result<std::unique_ptr<PeerAcceptor>> PeerAcceptor::Listen(const std::string& path,
                                                            grpc::Server* server, Reactor& reactor,
                                                            UnownedDispatcher dispatcher,
                                                            PeerAcceptorOptions options) {
  sockaddr_un addr{};
  if (path.size() >= sizeof(addr.sun_path)) {
    return Fail(ErrorCode::kInvalidArgument, "socket path " + path + " is too long");
  }
  std::unique_ptr<PeerAcceptor> acceptor(new PeerAcceptor());
  acceptor->path_ = path;
  acceptor->options_ = options;
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
  chmod(path.c_str(), options.mode);
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

void PeerAcceptor::SweepLocked() {
  std::erase_if(peers_, [](const auto& entry) { return InodeOf(entry.first) != entry.second.inode; });
}

std::optional<std::string> PeerAcceptor::OverCapLocked(pid_t pid) {
  auto count_of = [&] {
    return static_cast<size_t>(std::count_if(peers_.begin(), peers_.end(), [&](const auto& entry) {
      return entry.second.credentials.pid == pid;
    }));
  };
  if (peers_.size() >= options_.max_connections || count_of() >= options_.max_connections_per_process) {
    SweepLocked();  // Only when a cap is near: a sweep is one fstat per connection.
  }
  if (peers_.size() >= options_.max_connections) {
    ++stats_.refused_over_total;
    return "over the cap of " + std::to_string(options_.max_connections) + " connections";
  }
  if (count_of() >= options_.max_connections_per_process) {
    ++stats_.refused_over_per_process;
    return "over the cap of " + std::to_string(options_.max_connections_per_process) +
           " connections per process";
  }
  return std::nullopt;
}

void PeerAcceptor::OnReadable() {
  // A bounded batch per readiness: a client that connects nonstop must not
  // keep this dispatcher (and the reactor thread it may run on) to itself.
  for (int i = 0; i < kAcceptBatch; ++i) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) break;  // EAGAIN: drained. Other errors: try again on next readiness.
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
      close(fd);
      continue;
    }
    Peer peer{.credentials = {.pid = cred.pid, .uid = cred.uid, .gid = cred.gid,
                              .groups = PeerGroups(fd)},
              .inode = InodeOf(fd)};
    {
      MutexLock lock(mu_);
      if (auto why = OverCapLocked(cred.pid)) {
        uint64_t refused = stats_.refused_over_total + stats_.refused_over_per_process;
        auto now = std::chrono::steady_clock::now();
        if (refused <= 10 || now - last_refusal_log_ >= kRefusalLogInterval) {
          last_refusal_log_ = now;
          std::fprintf(stderr, "%s: refused a connection from pid %d (uid %u): %s (%lu refused)\n",
                       path_.c_str(), cred.pid, cred.uid, why->c_str(),
                       static_cast<unsigned long>(refused));
        }
        close(fd);
        continue;
      }
      // Overwrites whatever an earlier connection on this fd number left.
      peers_[fd] = std::move(peer);
      ++stats_.accepted;
      stats_.live = peers_.size();
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
  if (it == peers_.end() || InodeOf(fd) != it->second.inode) return std::nullopt;
  return it->second.credentials;
}

PeerAcceptorStats PeerAcceptor::stats() {
  MutexLock lock(mu_);
  SweepLocked();
  stats_.live = peers_.size();
  return stats_;
}

}  // namespace trellis::rpc
