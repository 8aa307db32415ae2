// BackendProcess: trellis-vhost-backend run as a child process for tests,
// listening on a socket in a fresh temporary directory:
//
//   if (!BackendProcess::Available()) GTEST_SKIP() << BackendProcess::kMissing;
//   auto backend = BackendProcess::Start({.device = "rng",
//                                         .args = {"--misbehave", "duplicate"}});
//   auto frontend = VhostUserFrontend::Connect(backend.value()->socket_path());
//
// Start returns once the backend logged "listening on PATH" (bounded wait);
// it fails with the backend's output if it exits first. The binary is the
// one CMake built (TRELLIS_VHOST_BACKEND_BINARY, defined when tools are
// built); without it Available() is false.
//
// The destructor stops the backend (SIGCONT, SIGTERM, then SIGKILL after a
// bounded wait), reaps it and removes the directory. One thread at a time.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/error.h"

namespace trellis::virtio::backend::testing {

struct BackendProcessOptions {
  std::string device = "rng";
  // More flags: {"--misbehave", "duplicate", "--once"}. --socket is added.
  std::vector<std::string> args;
  std::chrono::milliseconds start_timeout{10000};
  std::string binary;  // Empty: the built one.
};

class BackendProcess {
 public:
  static constexpr const char* kMissing =
      "trellis-vhost-backend was not built (configure with TRELLIS_BUILD_TOOLS=ON)";

  static std::string DefaultBinary();
  static bool Available(const std::string& binary = DefaultBinary());

  // Errors: kFailedPrecondition without the binary; kUnavailable (with its
  // output) if it exits early; kDeadlineExceeded if it does not listen by
  // start_timeout.
  static Result<std::unique_ptr<BackendProcess>> Start(BackendProcessOptions options);

  ~BackendProcess();
  BackendProcess(const BackendProcess&) = delete;
  BackendProcess& operator=(const BackendProcess&) = delete;

  const std::string& socket_path() const { return socket_path_; }
  const std::string& dir() const { return dir_; }
  pid_t pid() const { return pid_; }
  // The backend's stderr so far.
  std::string Log() const;
  // Waits until Log() contains `text`. Errors: kDeadlineExceeded (with the
  // log), kUnavailable if the backend exited first.
  Result<void> WaitForLog(const std::string& text, std::chrono::milliseconds timeout) const;
  // Whether the process is still there (reaps it if it exited).
  bool Running();
  // How it ended, once reaped: the exit status, or 128 + signal.
  std::optional<int> exit_status() const { return exit_status_; }

  // SIGKILL and reap: the backend dies mid-session.
  Result<void> Kill();
  // SIGSTOP / SIGCONT: a frozen backend (the socket stays, nothing answers).
  Result<void> Pause();
  Result<void> Continue();
  // SIGTERM and wait (bounded) for it to exit; returns its exit status.
  Result<int> Terminate(std::chrono::milliseconds timeout = std::chrono::seconds(5));

 private:
  explicit BackendProcess(BackendProcessOptions options) : options_(std::move(options)) {}
  Result<void> Spawn();
  // Reaps the child if it has exited; true when it is gone.
  bool Reaped();
  Result<void> Signal(int signal, const char* what);

  BackendProcessOptions options_;
  std::string dir_;
  std::string socket_path_;
  std::string log_path_;
  pid_t pid_ = -1;
  std::optional<int> exit_status_;
};

}  // namespace trellis::virtio::backend::testing
