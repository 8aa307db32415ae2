// SignalRelay: async-signal-safe handlers that write to a self-pipe.
#include "tools/powerctl/internal/signal_relay.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <mutex>

namespace trellis::powerctl::internal {

namespace {

// The self-pipe. Created once and kept for the life of the process: a
// handler already running on another thread while a relay is dropped may
// still write to it, so it must never be closed and reused.
int g_pipe[2] = {-1, -1};
std::once_flag g_pipe_once;
int g_pipe_errno = 0;
// Whether a relay is installed (handlers write only then).
std::atomic<bool> g_installed{false};

void OnSignal(int signo, siginfo_t* info, void*) {
  if (!g_installed.load(std::memory_order_relaxed)) return;
  int saved_errno = errno;
  unsigned char record[2] = {static_cast<unsigned char>(signo),
                             static_cast<unsigned char>(info != nullptr && info->si_code == SI_KERNEL)};
  // A full pipe drops the record; there is already plenty to read.
  ssize_t written = write(g_pipe[1], record, sizeof record);
  (void)written;
  errno = saved_errno;
}

}  // namespace

Result<std::unique_ptr<SignalRelay>> SignalRelay::Install() {
  std::call_once(g_pipe_once, [] {
    if (pipe2(g_pipe, O_CLOEXEC | O_NONBLOCK) != 0) g_pipe_errno = errno;
  });
  if (g_pipe_errno != 0) return FailErrno(g_pipe_errno, "cannot create the signal pipe");
  if (g_installed.exchange(true)) {
    return Fail(ErrorCode::kFailedPrecondition, "a signal relay is already installed");
  }
  std::unique_ptr<SignalRelay> relay(new SignalRelay());
  while (relay->TryTake()) {
    // Drop records a previous relay left behind.
  }
  for (size_t i = 0; i < std::size(kSignals); ++i) {
    int signo = kSignals[i];
    if (sigaction(signo, nullptr, &relay->previous_[i]) != 0) {
      return FailErrno(errno, "sigaction " + std::to_string(signo));
    }
    if (signo != SIGCHLD && relay->previous_[i].sa_handler == SIG_IGN) continue;
    struct sigaction action {};
    action.sa_sigaction = OnSignal;
    action.sa_flags = SA_SIGINFO | SA_RESTART | (signo == SIGCHLD ? SA_NOCLDSTOP : 0);
    sigemptyset(&action.sa_mask);
    if (sigaction(signo, &action, nullptr) != 0) {
      return FailErrno(errno, "sigaction " + std::to_string(signo));
    }
    relay->installed_[i] = true;
  }
  return relay;
}

SignalRelay::~SignalRelay() {
  for (size_t i = 0; i < std::size(kSignals); ++i) {
    if (installed_[i]) sigaction(kSignals[i], &previous_[i], nullptr);
  }
  g_installed.store(false);
}

int SignalRelay::fd() const { return g_pipe[0]; }

std::optional<SignalRelay::Caught> SignalRelay::TryTake() {
  unsigned char record[2];
  ssize_t got;
  do {
    got = read(g_pipe[0], record, sizeof record);
  } while (got < 0 && errno == EINTR);
  if (got != static_cast<ssize_t>(sizeof record)) return std::nullopt;
  return Caught{.signo = record[0], .from_kernel = record[1] != 0};
}

}  // namespace trellis::powerctl::internal
