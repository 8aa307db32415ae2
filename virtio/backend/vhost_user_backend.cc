#include "virtio/backend/vhost_user_backend.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace trellis::virtio::backend {

namespace {

void LogToStderr(const std::string& line) {
  std::string out = "trellis-vhost-backend: " + line + "\n";
  (void)!::write(STDERR_FILENO, out.data(), out.size());
}

Result<sockaddr_un> Address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return Fail(ErrorCode::kInvalidArgument, "socket path must be 1 to " +
                                                 std::to_string(sizeof(addr.sun_path) - 1) +
                                                 " bytes: '" + path + "'");
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

// Whether something accepts connections at `addr`.
bool SomeoneListens(const sockaddr_un& addr) {
  UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!probe.valid()) return false;
  return ::connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
}

}  // namespace

VhostUserBackend::VhostUserBackend(std::unique_ptr<BackendDevice> device, BackendOptions options)
    : device_(std::move(device)), options_(std::move(options)) {
  if (!options_.log) options_.log = LogToStderr;
}

Result<std::unique_ptr<VhostUserBackend>> VhostUserBackend::Listen(
    std::unique_ptr<BackendDevice> device, BackendOptions options) {
  if (device == nullptr) return Fail(ErrorCode::kInvalidArgument, "no device to serve");
  TRELLIS_ASSIGN_OR_RETURN(sockaddr_un addr, Address(options.socket_path));
  std::unique_ptr<VhostUserBackend> backend(
      new VhostUserBackend(std::move(device), std::move(options)));
  const std::string& path = backend->options_.socket_path;
  backend->stop_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!backend->stop_.valid()) return FailErrno(errno, "eventfd");
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return FailErrno(errno, "socket for " + path);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (errno != EADDRINUSE) return FailErrno(errno, "bind " + path);
    if (SomeoneListens(addr)) {
      return Fail(ErrorCode::kAlreadyExists, "a backend already listens on " + path);
    }
    ::unlink(path.c_str());  // Stale: left by a backend that died.
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      return FailErrno(errno, "bind " + path);
    }
  }
  if (::listen(fd.get(), 8) != 0) {
    int err = errno;
    ::unlink(path.c_str());
    return FailErrno(err, "listen on " + path);
  }
  backend->listen_ = std::move(fd);
  backend->options_.log("listening on " + path);
  return backend;
}

VhostUserBackend::~VhostUserBackend() {
  session_.reset();
  if (listen_.valid()) {
    listen_.reset();
    ::unlink(options_.socket_path.c_str());
  }
}

void VhostUserBackend::Stop() { (void)::eventfd_write(stop_.get(), 1); }

void VhostUserBackend::Complete(size_t queue, uint16_t head, uint32_t written) {
  if (session_) session_->Complete(queue, head, written);
}

Result<void> VhostUserBackend::Accept() {
  UniqueFd fd(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
  if (!fd.valid()) {
    if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) return Ok();
    return FailErrno(errno, "accept on " + options_.socket_path);
  }
  const uint64_t n = connections_.fetch_add(1, std::memory_order_acq_rel) + 1;
  std::string name = "connection " + std::to_string(n);
  ucred peer{};
  socklen_t len = sizeof(peer);
  std::string from;
  if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &peer, &len) == 0) {
    from = " from pid " + std::to_string(peer.pid);
  }
  options_.log(name + " accepted" + from);
  session_ = std::make_unique<VhostUserSession>(std::move(fd), *device_, options_.hostile,
                                                options_.log, std::move(name), options_.io_timeout);
  return Ok();
}

void VhostUserBackend::EndSession(const std::string& reason) {
  options_.log(session_->name() + " closed: " + reason);
  session_.reset();
  served_one_ = true;
}

Result<void> VhostUserBackend::Run() {
  std::vector<pollfd> fds;
  std::vector<size_t> kick_queue;  // For fds[kFirstKick + i].
  for (;;) {
    if (options_.once && served_one_) return Ok();
    fds.clear();
    kick_queue.clear();
    fds.push_back({stop_.get(), POLLIN, 0});
    fds.push_back({session_ ? session_->socket_fd() : listen_.get(), POLLIN, 0});
    fds.push_back({device_->input_fd(), POLLIN, 0});  // Ignored by poll when -1.
    constexpr size_t kFirstKick = 3;
    if (session_) {
      for (size_t i = 0; i < session_->num_queues(); ++i) {
        if (int kick = session_->kick_fd(i); kick >= 0) {
          fds.push_back({kick, POLLIN, 0});
          kick_queue.push_back(i);
        }
      }
    }
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      return FailErrno(errno, "poll");
    }
    if (fds[0].revents != 0) return Ok();
    if (fds[2].fd >= 0 && fds[2].revents != 0) device_->OnInputReady(*this);
    if (session_) {
      // Kicks before the socket: a request may stop the queues.
      for (size_t k = 0; k < kick_queue.size() && session_; ++k) {
        if (fds[kFirstKick + k].revents != 0) session_->OnKick(kick_queue[k]);
      }
      if (fds[1].revents != 0) {
        if (auto closed = session_->OnSocketReadable()) {
          EndSession(*closed);
          continue;
        }
      }
      session_->FlushCalls();
    } else if (fds[1].revents != 0) {
      TRELLIS_TRY(Accept());
    }
  }
}

}  // namespace trellis::virtio::backend
