#include "runtime/host/shared_memory_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <vector>

#include "runtime/block_queue_wire.h"
#include "runtime/host/block_queue_server.h"
#include "runtime/rpc/status.h"

namespace trellis::host {

namespace {

constexpr size_t kMaxTokenBytes = 256;
// A queue request: the token and up to three numbers before it.
constexpr size_t kMaxMessageBytes = kMaxTokenBytes + 80;

// Sends the one-line answer; a client that is gone is not an error here.
void Answer(int fd, const std::string& line) {
  (void)::send(fd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

std::string ErrorLine(const Error& error) {
  std::string message = error.message();
  for (char& c : message) {
    if (c == '\n') c = ' ';
  }
  return "error " + std::to_string(static_cast<int>(rpc::ToStatus(error).error_code())) + " " +
         message + "\n";
}

}  // namespace

std::string SharedMemoryServer::PathFor(const std::string& endpoint) {
  constexpr std::string_view kUnix = "unix:";
  if (endpoint.rfind(kUnix, 0) != 0) return "";
  return endpoint.substr(kUnix.size()) + ".shm";
}

Result<std::unique_ptr<SharedMemoryServer>> SharedMemoryServer::Listen(std::string path,
                                                                       HostRegistry* registry) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return Fail(ErrorCode::kInvalidArgument, "shared-memory socket path too long: " + path);
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return FailErrno(errno, "socket for " + path);
  ::unlink(path.c_str());
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd, 64) != 0) {
    int err = errno;
    ::close(fd);
    return FailErrno(err, "listening on " + path);
  }
  int stop = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop < 0) {
    int err = errno;
    ::close(fd);
    return FailErrno(err, "eventfd");
  }
  std::unique_ptr<SharedMemoryServer> server(new SharedMemoryServer(path, fd, stop, registry));
  server->thread_ = std::thread([raw = server.get()] { raw->Run(); });
  return server;
}

SharedMemoryServer::~SharedMemoryServer() {
  uint64_t one = 1;
  (void)!::write(stop_fd_, &one, sizeof(one));
  thread_.join();
  for (auto& [fd, connection] : connections_) Close(fd, connection);
  ::close(listen_fd_);
  ::close(stop_fd_);
  ::unlink(path_.c_str());
}

void SharedMemoryServer::Run() {
  std::vector<pollfd> fds;
  for (;;) {
    fds.clear();
    fds.push_back({stop_fd_, POLLIN, 0});
    fds.push_back({listen_fd_, POLLIN, 0});
    for (const auto& [fd, connection] : connections_) fds.push_back({fd, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[0].revents != 0) return;
    if (fds[1].revents != 0) Accept();
    for (size_t i = 2; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      auto it = connections_.find(fds[i].fd);
      if (it == connections_.end()) continue;
      if (!Serve(it->first, it->second)) {
        Close(it->first, it->second);
        connections_.erase(it);
      }
    }
  }
}

void SharedMemoryServer::Accept() {
  for (;;) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;  // EAGAIN: accepted all; anything else: try on the next wake.
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
      ::close(fd);
      continue;
    }
    if (connections_.size() >= kMaxConnections) {
      Answer(fd, ErrorLine(Error(ErrorCode::kResourceExhausted,
                                 "too many shared-memory connections to this host")));
      ::close(fd);
      continue;
    }
    connections_[fd].uid = cred.uid;
  }
}

bool SharedMemoryServer::Serve(int fd, Connection& connection) {
  char data[kMaxMessageBytes + 1];
  iovec iov{data, sizeof(data)};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n = ::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  if (n < 0) return errno == EAGAIN || errno == EINTR;
  if (n == 0) return false;  // Closed: its regions and queues go.
  // Every fd that arrived is ours (closed with these), whatever else is wrong.
  std::vector<UniqueFd> received;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int received_fd;
      std::memcpy(&received_fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      received.emplace_back(received_fd);
    }
  }
  Result<uint64_t> id =
      (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0
          ? Fail(ErrorCode::kInvalidArgument,
                 "message too large: send a token of at most 256 bytes and at most two fds")
          : Handle(fd, connection, std::string_view(data, static_cast<size_t>(n)), received);
  Answer(fd, id ? "ok " + std::to_string(*id) + "\n" : ErrorLine(id.error()));
  return true;
}

Result<uint64_t> SharedMemoryServer::Handle(int fd, Connection& connection, std::string_view data,
                                            std::vector<UniqueFd>& fds) {
  constexpr std::string_view kQueue = "queue ";
  if (data.starts_with(kQueue)) return AttachQueue(fd, connection, data.substr(kQueue.size()), fds);
  return AttachRegion(connection, data, fds);
}

Result<uint64_t> SharedMemoryServer::AttachRegion(Connection& connection, std::string_view token,
                                                  std::vector<UniqueFd>& fds) {
  if (token.size() > kMaxTokenBytes) {
    return Fail(ErrorCode::kInvalidArgument, "a token has at most 256 bytes");
  }
  if (fds.size() != 1) {
    return Fail(ErrorCode::kInvalidArgument,
                "send the token with exactly one memfd (SCM_RIGHTS); got " +
                    std::to_string(fds.size()) + " fds");
  }
  std::string key(token);
  TRELLIS_ASSIGN_OR_RETURN(auto region, SharedRegion::Map(fds[0].release()));  // Takes the fd.
  TRELLIS_ASSIGN_OR_RETURN(uint64_t id,
                           registry_->AttachRegion(key, connection.uid, std::move(region)));
  connection.regions.emplace(key, id);
  return id;
}

// "<region id> <ring offset> <queue size> <token>" with [kick, call].
Result<uint64_t> SharedMemoryServer::AttachQueue(int fd, Connection& connection,
                                                 std::string_view args,
                                                 std::vector<UniqueFd>& fds) {
  uint64_t numbers[3];
  for (uint64_t& number : numbers) {
    auto [end, ec] = std::from_chars(args.data(), args.data() + args.size(), number);
    if (ec != std::errc() || end == args.data() + args.size() || *end != ' ') {
      return Fail(ErrorCode::kInvalidArgument,
                  "a queue request reads 'queue <region id> <ring offset> <queue size> <token>'");
    }
    args.remove_prefix(static_cast<size_t>(end - args.data()) + 1);
  }
  const auto [region_id, ring_offset, size] = numbers;
  std::string token(args);
  if (token.empty() || token.size() > kMaxTokenBytes) {
    return Fail(ErrorCode::kInvalidArgument, "a queue request ends with its token (1..256 bytes)");
  }
  if (fds.size() != 2) {
    return Fail(ErrorCode::kInvalidArgument,
                "send a queue request with two eventfds, kick then call (SCM_RIGHTS); got " +
                    std::to_string(fds.size()) + " fds");
  }
  if (size > block_queue::kMaxQueueSize) {
    return Fail(ErrorCode::kInvalidArgument, "a block queue has at most " +
                                                 std::to_string(block_queue::kMaxQueueSize) +
                                                 " entries, not " + std::to_string(size));
  }
  TRELLIS_ASSIGN_OR_RETURN(auto authorized, registry_->Authorize(token, BlockProtocol::kName));
  TRELLIS_ASSIGN_OR_RETURN(auto region, registry_->FindRegion(token, region_id));
  int notices = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (notices < 0) return FailErrno(errno, "dup of the side connection");
  TRELLIS_ASSIGN_OR_RETURN(auto queue,
                           BlockQueueServer::Create({.instance = std::move(authorized.second),
                                                     .node_path = authorized.first.node_path,
                                                     .region = std::move(region),
                                                     .ring_offset = ring_offset,
                                                     .size = static_cast<uint16_t>(size),
                                                     .kick = std::move(fds[0]),
                                                     .call = std::move(fds[1]),
                                                     .notices = UniqueFd(notices)}));
  TRELLIS_ASSIGN_OR_RETURN(uint64_t id, registry_->AttachQueue(token, connection.uid, queue));
  connection.queues.emplace(token, id);
  if (auto started = queue->Start(id); !started) {
    registry_->DetachQueue(token, id);
    return Fail(started.error());
  }
  return id;
}

void SharedMemoryServer::Close(int fd, Connection& connection) {
  for (const auto& [token, id] : connection.queues) registry_->DetachQueue(token, id);
  connection.queues.clear();
  for (const auto& [token, id] : connection.regions) registry_->DetachRegion(token, id);
  connection.regions.clear();
  ::close(fd);
}

}  // namespace trellis::host
