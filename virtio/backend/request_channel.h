// The backend's end of one vhost-user connection: reads whole requests (with
// the fds that travel beside them as SCM_RIGHTS) and writes replies.
//
// The socket is non-blocking; both calls wait with poll(2) for the rest of a
// message, bounded by `timeout`, so a frontend that sends half a message and
// stops cannot hold the backend forever. Received fds are close-on-exec and
// owned by the ReceivedRequest; fds beyond kMaxFds, or any that arrive after
// the header, make the message malformed (and are closed).
//
// Free functions over a borrowed fd; one thread at a time per fd.
#pragma once

#include <chrono>
#include <optional>
#include <span>

#include "runtime/error.h"
#include "virtio/backend/vhost_user_requests.h"

namespace trellis::virtio::backend {

inline constexpr size_t kMaxRequestFds = 8;

// Reads one request: the header (checked with CheckRequestHeader before the
// payload is read), then its payload. Returns nullopt when the frontend
// closed the connection between messages.
// Errors: kInvalidArgument for a malformed message (bad header, too many
// fds, fds after the header); kUnavailable when the frontend hung up
// mid-message; kDeadlineExceeded when the rest of the message did not
// arrive within `timeout`; others from recvmsg(2).
Result<std::optional<ReceivedRequest>> ReceiveRequest(int fd, std::chrono::milliseconds timeout);

// Writes all of `bytes`. Errors: kUnavailable when the frontend hung up;
// kDeadlineExceeded when the socket stays full for `timeout`.
Result<void> SendReply(int fd, std::span<const std::byte> bytes, std::chrono::milliseconds timeout);

}  // namespace trellis::virtio::backend
