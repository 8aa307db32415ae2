// SignalRelay: turns SIGINT, SIGTERM, SIGHUP and SIGCHLD into records on a
// pipe, so `powerctl lease` can wait for its command, its lease stream and
// signals in one poll() with no work in signal handlers.
//
// The handlers are process-wide and run on whichever thread the kernel
// picks (gRPC's threads included); all they do is write(2) one record. A
// signal that was ignored when the relay was installed (nohup) stays
// ignored, and the command inherits that. SIGCHLD is always caught, so
// children can be reaped even if powerctl was started with it ignored.
#pragma once

#include <csignal>
#include <iterator>
#include <memory>
#include <optional>

#include "runtime/error.h"

namespace trellis::powerctl::internal {

class SignalRelay {
 public:
  // One caught signal.
  struct Caught {
    int signo = 0;
    // Sent by the kernel rather than by a process (kill, raise,
    // pthread_kill): Ctrl-C, Ctrl-\ and hang-ups from the terminal. The
    // terminal sends those to the whole foreground process group, so a
    // child in powerctl's group got its own copy.
    bool from_kernel = false;
  };

  // Installs the handlers. Only one relay may be installed at a time.
  // Errors: kFailedPrecondition if one is; from pipe2/sigaction otherwise.
  [[nodiscard]] static Result<std::unique_ptr<SignalRelay>> Install();

  SignalRelay(const SignalRelay&) = delete;
  SignalRelay& operator=(const SignalRelay&) = delete;
  // Restores the signal actions that were in place before Install.
  ~SignalRelay();

  // Readable while TryTake has a record. Owned by the relay.
  int fd() const;

  // The next caught signal, or nullopt. Never blocks.
  std::optional<Caught> TryTake();

 private:
  SignalRelay() = default;

  static constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGCHLD};
  struct sigaction previous_[std::size(kSignals)] = {};
  bool installed_[std::size(kSignals)] = {};
};

}  // namespace trellis::powerctl::internal
