// OpenChannel: a gRPC channel that fails fast when the peer is not there.
#include "tools/client/internal/channel.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace trellis::client::internal {

namespace {

// The longest Connect waits for a connection, whatever the call timeout.
constexpr std::chrono::milliseconds kMaxConnectWait = std::chrono::seconds(5);

// The socket path of a "unix:" target, or empty for other targets.
std::string UnixSocketPath(std::string_view endpoint) {
  if (endpoint.starts_with("unix://")) return std::string(endpoint.substr(7));
  if (endpoint.starts_with("unix:")) return std::string(endpoint.substr(5));
  return {};
}

Error Unreachable(std::string_view what, const std::string& endpoint, std::string_view why) {
  std::string message = "cannot reach " + std::string(what) + " at " + endpoint;
  if (!why.empty()) message += ": " + std::string(why);
  return Error(ErrorCode::kUnavailable, message + ": is it running?");
}

}  // namespace

Result<std::shared_ptr<grpc::Channel>> OpenChannel(const std::string& endpoint,
                                                   std::string_view what,
                                                   std::chrono::milliseconds timeout) {
  if (endpoint.empty()) return Fail(ErrorCode::kInvalidArgument, "empty endpoint for " + std::string(what));
  if (std::string path = UnixSocketPath(endpoint); !path.empty()) {
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) {
      int err = errno;
      return Fail(Unreachable(what, endpoint, err == ENOENT ? "" : std::strerror(err)));
    }
    if (!S_ISSOCK(st.st_mode)) return Fail(Unreachable(what, endpoint, path + " is not a socket"));
  }
  auto channel = grpc::CreateChannel(endpoint, grpc::InsecureChannelCredentials());
  auto wait = std::clamp(timeout, std::chrono::milliseconds(1), kMaxConnectWait);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + wait)) {
    return Fail(Unreachable(what, endpoint, "no connection within " +
                                                std::to_string(wait.count()) + " ms"));
  }
  return channel;
}

}  // namespace trellis::client::internal
