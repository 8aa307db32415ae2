#include "manager/backend/backend_supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>

#include "manager/backend/output_lines.h"
#include "manager/process/child_process.h"

namespace trellis::manager {

using node::v1::BackendState;

struct BackendSupervisor::Backend {
  BoardBackend spec;
  BackendState state = node::v1::BACKEND_STATE_STARTING;
  uint64_t generation = 0;  // Bumped per run; stale handlers compare it.
  ChildProcess child;
  Clock::time_point started;
  Clock::time_point ready_deadline;
  bool ready_this_run = false;
  bool reported_ready = false;  // The manager has been told once.
  uint32_t restarts = 0;
  uint32_t quick_failures = 0;  // In a row.
  std::chrono::milliseconds backoff{0};
  std::string last_exit;
  int output_fd = -1;  // Read end of the child's stdout+stderr pipe.
  OutputLines lines;
  Operation exit_watch;
  Operation output_watch;
  Operation timer;  // The readiness poll or the restart backoff.
};

namespace {

void Log(const std::string& node_path, std::string_view text) {
  std::fprintf(stderr, "trellis-manager: backend %s: %.*s\n", node_path.c_str(),
               static_cast<int>(text.size()), text.data());
}

// Whether a connection to the Unix socket at `path` is accepted (or queued:
// a full backlog still means something listens).
bool Accepts(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), std::min(path.size(), sizeof(addr.sun_path) - 1));
  int rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  bool accepted = rc == 0 || errno == EAGAIN || errno == EINPROGRESS;
  close(fd);
  return accepted;
}

// Removes a socket file left at `path` by an earlier run; anything else at
// that path is left alone (the backend's bind then fails and says why).
void RemoveStaleSocket(const std::string& path) {
  struct stat st {};
  if (lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) unlink(path.c_str());
}

}  // namespace

BackendSupervisor::BackendSupervisor(Reactor& reactor, UnownedDispatcher dispatcher,
                                     BackendPolicy policy, ReadyHandler on_ready)
    : reactor_(reactor),
      dispatcher_(std::move(dispatcher)),
      policy_(policy),
      on_ready_(std::move(on_ready)) {}

BackendSupervisor::~BackendSupervisor() { StopAll(); }

void BackendSupervisor::Start(BoardBackend spec) {
  auto backend = std::make_unique<Backend>();
  backend->spec = std::move(spec);
  backend->backoff = policy_.first_backoff;
  Backend& b = *backend;
  backends_[b.spec.node_path] = std::move(backend);
  Spawn(b);
}

bool BackendSupervisor::Gating(const std::string& node_path) const {
  auto it = backends_.find(node_path);
  return it != backends_.end() && !it->second->reported_ready;
}

std::optional<node::v1::BackendStatus> BackendSupervisor::Status(
    const std::string& node_path) const {
  auto it = backends_.find(node_path);
  if (it == backends_.end()) return std::nullopt;
  const Backend& b = *it->second;
  node::v1::BackendStatus status;
  status.set_state(b.state);
  if (b.child) status.set_pid(b.child.pid());
  status.set_restart_count(b.restarts);
  status.set_socket(b.spec.socket);
  status.set_last_exit(b.last_exit);
  return status;
}

BackendSupervisor::Backend* BackendSupervisor::Find(const std::string& node_path,
                                                    uint64_t generation) {
  auto it = backends_.find(node_path);
  if (it == backends_.end() || it->second->generation != generation || stopped_) return nullptr;
  return it->second.get();
}

void BackendSupervisor::Spawn(Backend& b) {
  b.generation = next_generation_++;
  b.state = node::v1::BACKEND_STATE_STARTING;
  b.ready_this_run = false;
  b.started = Clock::now();
  b.ready_deadline = b.started + b.spec.ready_timeout;
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(b.spec.socket).parent_path(), ec);
  RemoveStaleSocket(b.spec.socket);

  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    OnExit(b, "could not start: pipe: " + std::string(strerror(errno)));
    return;
  }
  fcntl(pipe_fds[0], F_SETFL, fcntl(pipe_fds[0], F_GETFL) | O_NONBLOCK);
  auto child = ChildProcess::Spawn({.argv = b.spec.argv,
                                    .fds = {{-1, 0}, {pipe_fds[1], 1}, {pipe_fds[1], 2}},
                                    .new_process_group = true,
                                    .reset_signals = true});
  close(pipe_fds[1]);
  if (!child) {
    close(pipe_fds[0]);
    OnExit(b, "could not start: " + child.error().message());
    return;
  }
  b.child = std::move(*child);
  b.output_fd = pipe_fds[0];
  Log(b.spec.node_path, "started pid " + std::to_string(b.child.pid()) + ": " + b.spec.argv[0] +
                            " (socket " + b.spec.socket + ")");
  WatchExit(b);
  WatchOutput(b);
  CheckReady(b);
}

void BackendSupervisor::WatchExit(Backend& b) {
  auto op =
      reactor_.FdReady(b.child.pidfd(), POLLIN,
                       [this, path = b.spec.node_path, generation = b.generation](Completion c) {
                         Backend* b = Find(path, generation);
                         if (b == nullptr || c.result < 0) return;
                         std::optional<std::string> how = b->child.TryReap();
                         OnExit(*b, how.value_or("ended"));
                       },
                       {.dispatcher = dispatcher_});
  if (op) b.exit_watch = std::move(*op);
}

void BackendSupervisor::WatchOutput(Backend& b) {
  if (b.output_fd < 0) return;
  auto op =
      reactor_.FdReady(b.output_fd, POLLIN,
                       [this, path = b.spec.node_path, generation = b.generation](Completion c) {
                         Backend* b = Find(path, generation);
                         if (b == nullptr || c.result < 0) return;
                         ReadOutput(*b);
                         WatchOutput(*b);
                       },
                       {.dispatcher = dispatcher_});
  if (op) b.output_watch = std::move(*op);
}

void BackendSupervisor::ReadOutput(Backend& b) {
  if (b.output_fd < 0) return;
  if (b.lines.ReadFrom(b.output_fd, [&](std::string_view text) { Log(b.spec.node_path, text); })) {
    return;
  }
  close(b.output_fd);
  b.output_fd = -1;
}

void BackendSupervisor::CheckReady(Backend& b) {
  if (b.ready_this_run || !b.child) return;
  if (Accepts(b.spec.socket)) {
    b.ready_this_run = true;
    b.state = node::v1::BACKEND_STATE_RUNNING;
    Log(b.spec.node_path, "socket " + b.spec.socket + " accepts connections");
    ReportReady(b, true);
    return;
  }
  if (Clock::now() >= b.ready_deadline) {
    b.ready_this_run = true;
    b.state = node::v1::BACKEND_STATE_RUNNING;
    Log(b.spec.node_path, "socket " + b.spec.socket + " not accepting connections after " +
                              std::to_string(b.spec.ready_timeout.count()) +
                              " ms; binding the node anyway (its driver reconnects)");
    ReportReady(b, false);
    return;
  }
  auto op =
      reactor_.Timer(std::min(Clock::now() + policy_.ready_poll, b.ready_deadline),
                     [this, path = b.spec.node_path, generation = b.generation](Completion c) {
                       Backend* b = Find(path, generation);
                       if (b != nullptr && c.result >= 0) CheckReady(*b);
                     },
                     {.dispatcher = dispatcher_});
  if (op) b.timer = std::move(*op);
}

void BackendSupervisor::ReportReady(Backend& b, bool accepted) {
  b.reported_ready = true;
  if (on_ready_) on_ready_(b.spec.node_path, accepted);
}

void BackendSupervisor::OnExit(Backend& b, std::string how) {
  b.exit_watch = Operation();
  b.timer = Operation();
  b.output_watch = Operation();
  ReadOutput(b);  // What it wrote before it ended.
  if (b.output_fd >= 0) {
    b.lines.Flush([&](std::string_view text) { Log(b.spec.node_path, text); });
    close(b.output_fd);
    b.output_fd = -1;
  }
  b.child = ChildProcess();
  b.last_exit = std::move(how);
  Log(b.spec.node_path, b.last_exit);
  RestartOrFail(b);
}

void BackendSupervisor::RestartOrFail(Backend& b) {
  if (stopped_) {
    b.state = node::v1::BACKEND_STATE_STOPPED;
    return;
  }
  bool quick = Clock::now() - b.started < policy_.stable_after;
  if (quick) {
    ++b.quick_failures;
  } else {
    b.quick_failures = 0;
    b.backoff = policy_.first_backoff;
  }
  std::string why;
  if (!b.spec.restart) {
    why = "restart is off";
  } else if (b.quick_failures >= policy_.max_quick_failures) {
    why = std::to_string(b.quick_failures) + " runs in a row ended within " +
          std::to_string(policy_.stable_after.count() / 1000) + " s of starting";
  }
  if (!why.empty()) {
    b.state = node::v1::BACKEND_STATE_FAILED;
    Log(b.spec.node_path, "failed, not restarting (" + why + "; last: " + b.last_exit + ")");
    if (!b.reported_ready) ReportReady(b, false);
    return;
  }
  b.state = node::v1::BACKEND_STATE_RESTARTING;
  auto delay = b.backoff;
  b.backoff = std::min(b.backoff * 2, policy_.max_backoff);
  Log(b.spec.node_path, "restarting in " + std::to_string(delay.count()) + " ms");
  auto op =
      reactor_.Timer(Clock::now() + delay,
                     [this, path = b.spec.node_path, generation = b.generation](Completion c) {
                       Backend* b = Find(path, generation);
                       if (b == nullptr || c.result < 0) return;
                       ++b->restarts;
                       Spawn(*b);
                     },
                     {.dispatcher = dispatcher_});
  if (op) b.timer = std::move(*op);
}

void BackendSupervisor::StopAll() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& [path, b] : backends_) {
    b->timer = Operation();
    b->exit_watch = Operation();
    b->output_watch = Operation();
    if (b->child) b->child.SignalGroup(SIGTERM);
  }
  auto deadline = Clock::now() + policy_.stop_grace;
  for (auto& [path, b] : backends_) {
    if (!b->child) continue;
    pollfd pfd{.fd = b->child.pidfd(), .events = POLLIN, .revents = 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    int ready = poll(&pfd, 1, static_cast<int>(std::max<int64_t>(left.count(), 0)));
    if (ready <= 0) {
      Log(path, "did not stop within " + std::to_string(policy_.stop_grace.count()) +
                    " ms of SIGTERM; sending SIGKILL");
      b->child.SignalGroup(SIGKILL);
      pfd.revents = 0;
      while (poll(&pfd, 1, -1) < 0 && errno == EINTR) {
      }
    }
    std::optional<std::string> how = b->child.TryReap();
    ReadOutput(*b);
    b->last_exit = how.value_or("ended");
    b->child = ChildProcess();
    Log(path, "stopped: " + b->last_exit);
  }
  for (auto& [path, b] : backends_) {
    if (b->output_fd >= 0) {
      close(b->output_fd);
      b->output_fd = -1;
    }
    if (b->state != node::v1::BACKEND_STATE_FAILED) b->state = node::v1::BACKEND_STATE_STOPPED;
    RemoveStaleSocket(b->spec.socket);
  }
}

}  // namespace trellis::manager
