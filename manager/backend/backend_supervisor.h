// BackendSupervisor: runs the backend processes board nodes declare
// (BoardNode.backend, e.g. qemu-storage-daemon exporting a disk over
// vhost-user-blk) for the manager: starts each one, tells the manager when
// its socket accepts connections so the node can be bound, forwards its
// output to the manager's log, restarts it with backoff when it exits, gives
// up after too many quick failures, and stops it when the manager stops.
//
// Threading: owned by the Manager and touched only on the manager's
// dispatcher. A child's exit is seen through its pidfd on the manager's
// reactor (Reactor::FdReady, delivered on that dispatcher), as driver hosts
// are; its output pipe and the backoff and readiness timers are reactor
// operations delivered there too. Dropping them (StopAll, destruction)
// cancels them without their handlers running.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "manager/manifest/board_backends.h"
#include "runtime/dispatcher.h"
#include "runtime/reactor.h"
#include "trellis/node/v1/node.pb.h"

namespace trellis::manager {

struct BackendPolicy {
  // Wait before the first restart after a quick failure; doubles per quick
  // failure in a row up to max_backoff.
  std::chrono::milliseconds first_backoff{100};
  std::chrono::milliseconds max_backoff{5'000};
  // A run at least this long is not a quick failure: the backoff and the
  // count of quick failures start over.
  std::chrono::milliseconds stable_after{10'000};
  // Quick failures in a row after which the backend is marked failed.
  uint32_t max_quick_failures = 5;
  // StopAll: SIGTERM, then SIGKILL after this long.
  std::chrono::milliseconds stop_grace{2'000};
  // Between checks of whether a starting backend's socket accepts.
  std::chrono::milliseconds ready_poll{20};
};

class BackendSupervisor {
 public:
  // Runs on the dispatcher after each start of a backend, once its socket
  // accepts a connection (accepted = true) or its ready timeout passed
  // (false); and when a backend is marked failed before either (false).
  using ReadyHandler = std::function<void(const std::string& node_path, bool accepted)>;

  BackendSupervisor(Reactor& reactor, UnownedDispatcher dispatcher, BackendPolicy policy,
                    ReadyHandler on_ready);
  // StopAll, if not done yet. On the dispatcher, before the reactor goes.
  ~BackendSupervisor();
  BackendSupervisor(const BackendSupervisor&) = delete;
  BackendSupervisor& operator=(const BackendSupervisor&) = delete;

  // Starts `backend` (removing a stale socket file at its path first). A
  // program that cannot be started counts as a quick failure, so it is
  // retried and then marked failed like one that exits at once.
  void Start(BoardBackend backend);
  // Whether `node_path` has a backend that has not yet been reported ready
  // (the manager does not bind the node until then).
  bool Gating(const std::string& node_path) const;
  // The backend's status; nullopt if `node_path` has none.
  std::optional<node::v1::BackendStatus> Status(const std::string& node_path) const;
  // Stops every backend: SIGTERM to its process group, SIGKILL to what is
  // left after stop_grace, reaps, and removes the socket files. Blocks the
  // dispatcher for up to stop_grace. No restart happens afterwards.
  void StopAll();

 private:
  struct Backend;
  void Spawn(Backend& backend);
  void WatchExit(Backend& backend);
  void WatchOutput(Backend& backend);
  void ReadOutput(Backend& backend);
  void CheckReady(Backend& backend);
  void ReportReady(Backend& backend, bool accepted);
  void OnExit(Backend& backend, std::string how);
  void RestartOrFail(Backend& backend);
  // Resolves handlers' captured (path, generation) to a live run.
  Backend* Find(const std::string& node_path, uint64_t generation);

  Reactor& reactor_;
  UnownedDispatcher dispatcher_;
  const BackendPolicy policy_;
  ReadyHandler on_ready_;
  std::map<std::string, std::unique_ptr<Backend>> backends_;  // By node path.
  uint64_t next_generation_ = 1;
  bool stopped_ = false;
};

}  // namespace trellis::manager
