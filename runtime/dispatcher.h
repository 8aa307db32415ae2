// Dispatcher: a serialized task queue on the runtime's shared thread pool,
// after Fuchsia's fdf::Dispatcher.
//
// Tasks of one dispatcher never run concurrently and run in post order;
// tasks of different dispatchers do run in parallel. Every method is
// thread-safe: post from any thread, including from a task.
//
// Power-managed dispatchers (seed 000: Driver::system_suspend) can be
// suspended: Suspend() stops starting tasks, waits for the running one to
// end, then completes; tasks posted meanwhile queue. Resume(wake_task) runs
// the wake task first, then the queue in order. System tasks (PostSystem)
// are exempt: the driver host runs lifecycle hooks such as system_suspend
// with them while the driver's own tasks are held.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "runtime/error.h"
#include "runtime/task.h"

namespace trellis {

class Runtime;
namespace internal {
class DispatcherCore;
}

struct DispatcherOptions {
  // Shown in logs and errors.
  std::string name = "dispatcher";
  // Whether Suspend()/Resume() apply (manifest `power.managed_dispatchers`).
  bool power_managed = false;
};

// A non-owning view of a dispatcher. Copyable; keeps the dispatcher's state
// alive but does not shut it down. Obtain one with Dispatcher::borrow() or
// UnownedDispatcher::Current().
class UnownedDispatcher {
 public:
  UnownedDispatcher() = default;

  // The dispatcher whose task is running on this thread (empty if none).
  static UnownedDispatcher Current();

  explicit operator bool() const { return core_ != nullptr; }
  std::string_view name() const;
  bool power_managed() const;

  // Queues `task` to run after every task posted before it.
  // Errors: kFailedPrecondition once the dispatcher is shut down.
  Result<void> Post(Task task) const;
  // Queues `task` once `deadline` has passed. Delayed tasks become runnable
  // in (deadline, post order). Errors: as Post.
  Result<void> PostAt(Clock::time_point deadline, Task task) const;
  Result<void> PostAfter(Clock::duration delay, Task task) const {
    return PostAt(Clock::now() + delay, std::move(task));
  }
  // Runs `task` on this thread, now, if this thread is running no
  // dispatcher's task and the dispatcher is idle with nothing queued (and,
  // if power-managed, not suspended); otherwise posts it. Either way it runs
  // after every task posted before it. For completions arriving on foreign
  // threads (gRPC callbacks): an idle dispatcher costs no thread hand-off.
  // Errors: as Post.
  Result<void> RunOrPost(Task task) const;
  // Queues a system task: it runs even while the dispatcher is suspended,
  // ahead of queued managed tasks, still serialized with them.
  Result<void> PostSystem(Task task) const;

  // Suspends a power-managed dispatcher: no new managed task starts; once
  // the running task (if any) returns, `on_suspended` runs exactly once —
  // inline when nothing was running, else on the thread that ran the task.
  // Errors: kFailedPrecondition if not power-managed, shut down, or not
  // running.
  Result<void> Suspend(std::move_only_function<void()> on_suspended) const;
  // Resumes: `wake_task` (if any) runs before every queued task.
  // Errors: kFailedPrecondition unless suspended.
  Result<void> Resume(Task wake_task = nullptr) const;

  // Shuts the dispatcher down. Posting fails from now on; queued and delayed
  // tasks are destroyed without running; in-flight reactor operations started
  // from it are cancelled and their handlers never run. `observer` runs once,
  // on a pool thread, after the running task has returned and every such
  // operation's completion has arrived — so no kernel I/O still refers to
  // its memory. Errors: kFailedPrecondition if already shut down.
  Result<void> Shutdown(std::move_only_function<void()> observer = nullptr) const;

  bool is_shut_down() const;
  bool is_suspended() const;

  // For the runtime's own use (reactor, host).
  const std::shared_ptr<internal::DispatcherCore>& core() const { return core_; }

 protected:
  explicit UnownedDispatcher(std::shared_ptr<internal::DispatcherCore> core)
      : core_(std::move(core)) {}
  std::shared_ptr<internal::DispatcherCore> core_;
};

// The owning handle. Move-only; destroying it shuts the dispatcher down
// (without an observer) unless it already was.
class Dispatcher : public UnownedDispatcher {
 public:
  // Creates a dispatcher on `runtime`, which must outlive it.
  static Dispatcher Create(Runtime& runtime, DispatcherOptions options);

  Dispatcher() = default;
  Dispatcher(Dispatcher&&) noexcept = default;
  Dispatcher& operator=(Dispatcher&& other) noexcept;
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;
  ~Dispatcher();

  UnownedDispatcher borrow() const { return *this; }

 private:
  using UnownedDispatcher::UnownedDispatcher;
};

}  // namespace trellis
