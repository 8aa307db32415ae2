// Connection: the frontend's end of a vhost-user socket (AF_UNIX,
// SOCK_STREAM) to a backend listening at a path.
//
// Moves whole messages: Send writes a request and up to kMaxFds file
// descriptors (SCM_RIGHTS, on the first byte); Receive reads exactly the
// bytes asked for, across partial reads, until a deadline. It knows bytes
// and fds, not message meaning (message.h) or call order (frontend.h).
//
// Blocking calls bounded by deadlines (poll on a non-blocking socket); the
// socket is close-on-exec and sends never raise SIGPIPE (MSG_NOSIGNAL).
// Owns its socket; move-only. One thread at a time.
#pragma once

#include <chrono>
#include <cstddef>
#include <span>
#include <string>

#include "runtime/error.h"

namespace trellis::vhost_user {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

class Connection {
 public:
  static constexpr size_t kMaxFds = 8;

  // Connects to the backend listening at `path`.
  // Errors: kUnavailable "no vhost-user backend listening at PATH" (no such
  // socket, or nobody listening); kDeadlineExceeded when the backend's listen
  // queue stays full until `deadline`; kInvalidArgument for a path too long
  // for sockaddr_un; others from socket(2).
  static Result<Connection> Connect(const std::string& path, Deadline deadline);

  Connection(Connection&& other) noexcept;
  Connection& operator=(Connection&& other) noexcept;
  ~Connection();

  // Writes all of `bytes`, with `fds` (at most kMaxFds, borrowed) attached.
  // `what` names the message in errors ("SET_MEM_TABLE").
  // Errors: kUnavailable "backend closed the connection"; kDeadlineExceeded
  // when the socket stays full until `deadline`; kInvalidArgument for too
  // many fds.
  Result<void> Send(std::span<const std::byte> bytes, std::span<const int> fds,
                    std::string_view what, Deadline deadline);

  // Reads exactly `into.size()` bytes. File descriptors that arrive are
  // closed and make it an error (no reply we read carries any).
  // Errors: kUnavailable "backend closed the connection"; kDeadlineExceeded
  // "no answer to WHAT before the deadline"; kInternal for unexpected fds.
  Result<void> Receive(std::span<std::byte> into, std::string_view what, Deadline deadline);

  const std::string& path() const { return path_; }
  int fd() const { return fd_; }

 private:
  Connection(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  // Waits until the socket is ready for `events` or `deadline` passes.
  Result<void> Wait(short events, std::string_view what, Deadline deadline);

  std::string path_;
  int fd_ = -1;
};

}  // namespace trellis::vhost_user
