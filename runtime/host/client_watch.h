// ClientWatch: notices when a bound client's process exits (a pidfd per
// process), so the host can take back what the client lent its drivers.
// gRPC streams end by themselves when a client dies; allowed buffers do
// not, and the client may never have opened a stream.
//
// Threading: one thread of its own polls the pidfds and a wake eventfd;
// on_exit runs there, once per watched client. Watch is thread-safe.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "runtime/error.h"
#include "runtime/mutex.h"
#include "runtime/unique_fd.h"

namespace trellis::host {

class ClientWatch {
 public:
  using OnExit = std::function<void(uint64_t client_id)>;

  // Errors: the errno's code if the wake eventfd cannot be made.
  static Result<std::unique_ptr<ClientWatch>> Start(OnExit on_exit);
  ~ClientWatch();  // Stops the thread; on_exit runs no more.

  // Calls on_exit(client_id) once `pid` exits (soon, if it already has).
  // A no-op for pid 0 (unknown) or a client already watched.
  void Watch(uint64_t client_id, pid_t pid) TRELLIS_EXCLUDES(mu_);

 private:
  struct Process {
    UniqueFd pidfd;
    std::set<uint64_t> clients;
  };

  ClientWatch(OnExit on_exit, UniqueFd wake)
      : on_exit_(std::move(on_exit)), wake_(std::move(wake)) {}
  void Run() TRELLIS_EXCLUDES(mu_);

  const OnExit on_exit_;
  const UniqueFd wake_;  // eventfd: a new pid to watch, or stop.
  Mutex mu_;
  std::map<pid_t, Process> processes_ TRELLIS_GUARDED_BY(mu_);
  std::set<uint64_t> clients_ TRELLIS_GUARDED_BY(mu_);
  bool stop_ TRELLIS_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace trellis::host
