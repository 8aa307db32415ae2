#include "virtio/vhost_user/connection.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "virtio/vhost_user/internal/format.h"

namespace trellis::vhost_user {

using internal::Format;

namespace {

Error Closed() { return Error(ErrorCode::kUnavailable, "backend closed the connection"); }

bool IsHangup(int err) { return err == EPIPE || err == ECONNRESET || err == ENOTCONN; }

// Milliseconds left until `deadline` for poll(2), rounded up, at least 0.
int MillisLeft(Deadline deadline) {
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  if (left <= 0) return 0;
  return left > INT32_MAX ? INT32_MAX : static_cast<int>(left);
}

void CloseReceivedFds(msghdr& msg, bool* any) {
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      ::close(fd);
      *any = true;
    }
  }
}

}  // namespace

Result<Connection> Connection::Connect(const std::string& path, Deadline deadline) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return Fail(ErrorCode::kInvalidArgument,
                Format("vhost-user socket path must be 1 to {} bytes: '{}'",
                       sizeof(addr.sun_path) - 1, path));
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return FailErrno(errno, "socket for vhost-user backend " + path);
  Connection connection(path, fd);
  for (;;) {
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) return connection;
    int err = errno;
    if (err == EINTR) continue;
    if (err == ENOENT || err == ECONNREFUSED || err == ENOTDIR) {
      return Fail(ErrorCode::kUnavailable,
                  Format("no vhost-user backend listening at {}: {}", path, std::strerror(err)));
    }
    if (err != EAGAIN) return FailErrno(err, "connecting to vhost-user backend " + path);
    // A Unix socket whose listen queue is full refuses a non-blocking connect
    // with EAGAIN and offers nothing to poll for: retry until the deadline.
    if (Clock::now() >= deadline) {
      return Fail(ErrorCode::kDeadlineExceeded,
                  Format("vhost-user backend {} kept its listen queue full", path));
    }
    ::poll(nullptr, 0, 1);
  }
}

Connection::Connection(Connection&& other) noexcept
    : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)) {}

Connection& Connection::operator=(Connection&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

Connection::~Connection() {
  if (fd_ >= 0) ::close(fd_);
}

Result<void> Connection::Wait(short events, std::string_view what, Deadline deadline) {
  for (;;) {
    pollfd p{fd_, events, 0};
    int n = ::poll(&p, 1, MillisLeft(deadline));
    if (n < 0) {
      if (errno == EINTR) continue;
      return FailErrno(errno, "poll on the vhost-user socket");
    }
    if (n > 0) return Ok();  // Ready, or an error/hangup the next call reports.
    if (Clock::now() >= deadline) {
      return Fail(ErrorCode::kDeadlineExceeded,
                  Format("{} {} before the deadline",
                         events == POLLIN ? "no answer to" : "could not send", what));
    }
  }
}

Result<void> Connection::Send(std::span<const std::byte> bytes, std::span<const int> fds,
                              std::string_view what, Deadline deadline) {
  if (fds.size() > kMaxFds) {
    return Fail(ErrorCode::kInvalidArgument,
                Format("{} with {} fds; at most {} fit in a message", what, fds.size(), kMaxFds));
  }
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)] = {};
  size_t sent = 0;
  while (sent < bytes.size()) {
    iovec iov{const_cast<std::byte*>(bytes.data() + sent), bytes.size() - sent};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (sent == 0 && !fds.empty()) {
      msg.msg_control = control;
      msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
      std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    int err = errno;
    if (err == EINTR) continue;
    if (IsHangup(err)) return Fail(Closed());
    if (err != EAGAIN) return FailErrno(err, Format("sending {}", what));
    TRELLIS_TRY(Wait(POLLOUT, what, deadline));
  }
  return Ok();
}

Result<void> Connection::Receive(std::span<std::byte> into, std::string_view what,
                                 Deadline deadline) {
  size_t got = 0;
  while (got < into.size()) {
    iovec iov{into.data() + got, into.size() - got};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    ssize_t n = ::recvmsg(fd_, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n > 0) {
      bool any_fds = false;
      CloseReceivedFds(msg, &any_fds);
      if (any_fds || (msg.msg_flags & MSG_CTRUNC) != 0) {
        return Fail(ErrorCode::kInternal,
                    Format("reply to {} carries file descriptors; none were expected", what));
      }
      got += static_cast<size_t>(n);
      continue;
    }
    if (n == 0) return Fail(Closed());
    int err = errno;
    if (err == EINTR) continue;
    if (IsHangup(err)) return Fail(Closed());
    if (err != EAGAIN) return FailErrno(err, Format("receiving the reply to {}", what));
    TRELLIS_TRY(Wait(POLLIN, what, deadline));
  }
  return Ok();
}

}  // namespace trellis::vhost_user
