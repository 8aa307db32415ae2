#include "tools/client/shared_memory.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <vector>

namespace trellis::client {

namespace {

constexpr int kAnswerTimeoutMs = 10'000;

// gRPC status codes as our ErrorCode (they share numbering).
ErrorCode CodeOf(int grpc_code) {
  return grpc_code > 0 && grpc_code <= 16 ? static_cast<ErrorCode>(grpc_code)
                                          : ErrorCode::kInternal;
}

}  // namespace

Result<SharedMemory> SharedMemory::Create(uint64_t size) {
  int fd = ::memfd_create("trellis-shm", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return FailErrno(errno, "memfd_create");
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0 ||
      ::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) != 0) {
    int err = errno;
    ::close(fd);
    return FailErrno(err, "sizing and sealing the memfd");
  }
  void* base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) {
    int err = errno;
    ::close(fd);
    return FailErrno(err, "mmap of the memfd");
  }
  return SharedMemory(fd, static_cast<std::byte*>(base), size);
}

SharedMemory::SharedMemory(SharedMemory&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      side_(std::exchange(other.side_, -1)),
      base_(std::exchange(other.base_, nullptr)),
      size_(std::exchange(other.size_, 0)) {}

SharedMemory& SharedMemory::operator=(SharedMemory&& other) noexcept {
  if (this != &other) {
    Reset();
    fd_ = std::exchange(other.fd_, -1);
    side_ = std::exchange(other.side_, -1);
    base_ = std::exchange(other.base_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

SharedMemory::~SharedMemory() { Reset(); }

void SharedMemory::Reset() {
  if (side_ >= 0) ::close(side_);
  if (base_ != nullptr) ::munmap(base_, size_);
  if (fd_ >= 0) ::close(fd_);
  side_ = fd_ = -1;
  base_ = nullptr;
}

Result<uint64_t> SharedMemory::Attach(const std::string& endpoint, const std::string& token) {
  if (side_ < 0) {
    TRELLIS_ASSIGN_OR_RETURN(side_, ConnectSideSocket(endpoint));
  }
  return SendSideMessage(side_, token, &fd_, 1);
}

Result<int> ConnectSideSocket(const std::string& endpoint) {
  constexpr std::string_view kUnix = "unix:";
  if (endpoint.rfind(kUnix, 0) != 0) {
    return Fail(ErrorCode::kFailedPrecondition,
                "shared memory needs a local host (a unix: endpoint), not " + endpoint);
  }
  std::string path = endpoint.substr(kUnix.size()) + ".shm";
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return Fail(ErrorCode::kInvalidArgument, "socket path too long: " + path);
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) return FailErrno(errno, "socket");
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    int err = errno;
    ::close(fd);
    return Fail(ErrorCode::kUnavailable,
                "cannot reach the host's shared-memory socket " + path + ": " + std::strerror(err));
  }
  return fd;
}

Result<uint64_t> SendSideMessage(int side_socket, const std::string& message, const int* fds,
                                 size_t fd_count) {
  iovec iov{const_cast<char*>(message.data()), message.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<char> control(CMSG_SPACE(sizeof(int) * fd_count));
  if (fd_count > 0) {
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fd_count);
    std::memcpy(CMSG_DATA(c), fds, sizeof(int) * fd_count);
  }
  if (::sendmsg(side_socket, &msg, MSG_NOSIGNAL) < 0) {
    return FailErrno(errno, "sending a shared-memory request to the host");
  }
  pollfd p{side_socket, POLLIN, 0};
  if (::poll(&p, 1, kAnswerTimeoutMs) != 1) {
    return Fail(ErrorCode::kDeadlineExceeded, "the host did not answer the shared-memory request");
  }
  char answer[1024];
  ssize_t n = ::recv(side_socket, answer, sizeof(answer) - 1, 0);
  if (n <= 0) return Fail(ErrorCode::kUnavailable, "the host closed the shared-memory socket");
  std::string line(answer, static_cast<size_t>(n));
  if (!line.empty() && line.back() == '\n') line.pop_back();
  if (line.rfind("ok ", 0) == 0) return std::stoull(line.substr(3));
  if (line.rfind("error ", 0) == 0) {
    size_t space = line.find(' ', 6);
    int code = std::atoi(line.substr(6, space - 6).c_str());
    return Fail(CodeOf(code), space == std::string::npos ? line : line.substr(space + 1));
  }
  return Fail(ErrorCode::kInternal, "unexpected answer from the host: " + line);
}

}  // namespace trellis::client
