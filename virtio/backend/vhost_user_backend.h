// VhostUserBackend: a vhost-user device server. Listens on a Unix socket
// path and serves one frontend connection at a time (VhostUserSession);
// when it ends, all protocol state goes with it and the next connection
// (waiting in the listen queue meanwhile) gets a fresh session. The device
// (BackendDevice) lives as long as the backend, across connections.
//
//   auto backend = VhostUserBackend::Listen(std::make_unique<RngDevice>(),
//                                           {.socket_path = "/run/rng.sock"});
//   std::thread loop([&] { (void)(*backend)->Run(); });
//   ...
//   (*backend)->Stop(); loop.join();
//
// Run is a single-thread poll(2) loop over: a stop eventfd, the listening
// socket (while no one is connected) or the connection, the running
// queues' kick eventfds, and the device's input fd. Logging goes through
// BackendOptions::log, one line per event: listening, each connection and
// how it ended, each misbehaviour, each stopped queue.
//
// Threading: Run on one thread (everything but Stop happens there); Stop
// from any thread or a signal handler. The destructor (after Run returned,
// or without Run) closes everything and removes the socket file.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "runtime/error.h"
#include "virtio/backend/backend_device.h"
#include "virtio/backend/hostile_options.h"
#include "runtime/unique_fd.h"
#include "virtio/backend/vhost_user_session.h"

namespace trellis::virtio::backend {

struct BackendOptions {
  std::string socket_path;
  HostileOptions hostile;
  // Run returns once the first connection ends.
  bool once = false;
  // Each log line, without a newline; null: "trellis-vhost-backend: LINE"
  // on stderr.
  LogFn log;
  // Bound on reading the rest of a request and on sending a reply.
  std::chrono::milliseconds io_timeout{2000};
};

class VhostUserBackend final : private DeviceContext {
 public:
  // Binds and listens at options.socket_path (a stale socket file that
  // nobody listens on is replaced) and logs "listening on PATH".
  // Errors: kInvalidArgument for a path too long for sockaddr_un or a null
  // device; kAlreadyExists when a live backend listens there; from
  // socket/bind/listen/eventfd otherwise.
  static Result<std::unique_ptr<VhostUserBackend>> Listen(std::unique_ptr<BackendDevice> device,
                                                          BackendOptions options);

  ~VhostUserBackend();
  VhostUserBackend(const VhostUserBackend&) = delete;
  VhostUserBackend& operator=(const VhostUserBackend&) = delete;

  // Serves connections until Stop (or, with `once`, until the first
  // connection ends). Errors: from poll(2) and accept(2) (not EINTR or a
  // frontend that went away before accept).
  Result<void> Run();

  // Makes Run return soon; any thread, async-signal-safe (one write(2)).
  void Stop();

  const std::string& socket_path() const { return options_.socket_path; }
  // Connections accepted so far (any thread).
  uint64_t connections() const { return connections_.load(std::memory_order_acquire); }

 private:
  VhostUserBackend(std::unique_ptr<BackendDevice> device, BackendOptions options);
  // Accepts the next connection, if one is waiting.
  Result<void> Accept();
  void EndSession(const std::string& reason);
  // DeviceContext for OnInputReady: forwards to the session, if any.
  void Complete(size_t queue, uint16_t head, uint32_t written) override;

  std::unique_ptr<BackendDevice> device_;
  BackendOptions options_;
  UniqueFd listen_;
  UniqueFd stop_;  // eventfd.
  std::unique_ptr<VhostUserSession> session_;
  std::atomic<uint64_t> connections_{0};
  bool served_one_ = false;
};

}  // namespace trellis::virtio::backend
