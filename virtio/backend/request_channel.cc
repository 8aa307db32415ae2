#include "virtio/backend/request_channel.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace trellis::virtio::backend {

namespace {

using Clock = std::chrono::steady_clock;

bool IsHangup(int err) { return err == EPIPE || err == ECONNRESET || err == ENOTCONN; }

Result<void> WaitFor(int fd, short events, Clock::time_point deadline, const char* what) {
  for (;;) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      return Fail(ErrorCode::kDeadlineExceeded, std::string("timed out ") + what);
    }
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, static_cast<int>(left));
    if (n > 0) return Ok();
    if (n < 0 && errno != EINTR) return FailErrno(errno, "poll on the vhost-user socket");
  }
}

// Moves the SCM_RIGHTS fds of `msg` into `out`; false if any were truncated.
bool TakeFds(msghdr& msg, std::vector<UniqueFd>& out) {
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      out.emplace_back(fd);
    }
  }
  return (msg.msg_flags & MSG_CTRUNC) == 0;
}

// Reads exactly `into.size()` bytes. Fds that arrive go to `fds` (null: none
// allowed). Returns false on EOF before the first byte.
Result<bool> ReadExactly(int fd, std::span<std::byte> into, std::vector<UniqueFd>* fds,
                         Clock::time_point deadline) {
  size_t got = 0;
  while (got < into.size()) {
    iovec iov{into.data() + got, into.size() - got};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxRequestFds)];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    ssize_t n = ::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n > 0) {
      std::vector<UniqueFd> arrived;
      const bool whole = TakeFds(msg, arrived);
      if (!arrived.empty() || !whole) {
        if (fds == nullptr) {
          return Fail(ErrorCode::kInvalidArgument, "file descriptors after the message header");
        }
        if (!whole || fds->size() + arrived.size() > kMaxRequestFds) {
          return Fail(ErrorCode::kInvalidArgument,
                      "more than " + std::to_string(kMaxRequestFds) + " file descriptors");
        }
        for (UniqueFd& f : arrived) fds->push_back(std::move(f));
      }
      got += static_cast<size_t>(n);
      continue;
    }
    if (n == 0) {
      if (got == 0) return false;
      return Fail(ErrorCode::kUnavailable, "frontend closed the connection mid-message");
    }
    const int err = errno;
    if (err == EINTR) continue;
    if (IsHangup(err)) return Fail(ErrorCode::kUnavailable, "frontend closed the connection");
    if (err != EAGAIN) return FailErrno(err, "recvmsg on the vhost-user socket");
    TRELLIS_TRY(WaitFor(fd, POLLIN, deadline, "waiting for the rest of a message"));
  }
  return true;
}

}  // namespace

Result<std::optional<ReceivedRequest>> ReceiveRequest(int fd, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  ReceivedRequest r;
  std::byte header[vhost_user::kHeaderSize];
  TRELLIS_ASSIGN_OR_RETURN(bool any, ReadExactly(fd, header, &r.fds, deadline));
  if (!any) return std::nullopt;
  std::memcpy(&r.header, header, sizeof(header));
  TRELLIS_TRY(CheckRequestHeader(r.header));
  r.payload.resize(r.header.size);
  if (r.header.size > 0) {
    TRELLIS_ASSIGN_OR_RETURN(bool more, ReadExactly(fd, r.payload, nullptr, deadline),
                             r.name() + " payload");
    if (!more) return Fail(ErrorCode::kUnavailable, r.name() + ": frontend closed mid-message");
  }
  return r;
}

Result<void> SendReply(int fd, std::span<const std::byte> bytes,
                       std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    const int err = errno;
    if (err == EINTR) continue;
    if (IsHangup(err)) return Fail(ErrorCode::kUnavailable, "frontend closed the connection");
    if (err != EAGAIN) return FailErrno(err, "send on the vhost-user socket");
    TRELLIS_TRY(WaitFor(fd, POLLOUT, deadline, "sending a reply"));
  }
  return Ok();
}

}  // namespace trellis::virtio::backend
