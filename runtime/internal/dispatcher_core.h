// DispatcherCore: the shared state behind Dispatcher handles. Private to the
// runtime; drivers use dispatcher.h.
//
// State machine (all under mu_):
//   run_:   kIdle ──post──▶ kScheduled ──worker──▶ kRunning ──batch done──▶ kIdle
//   power_: kRunning ──Suspend──▶ kSuspending ──running task ends──▶ kSuspended
//           kSuspended ──Resume──▶ kRunning
//   shutdown_: set once; queued and delayed tasks are dropped, and the
//   observer fires after the running task ends and every in-flight reactor
//   operation has completed.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "runtime/error.h"
#include "runtime/mutex.h"
#include "runtime/task.h"
#include "runtime/thread_pool.h"

namespace trellis {
class Reactor;
}

namespace trellis::internal {

class DispatcherCore final : public ThreadPool::TimerTarget,
                             public std::enable_shared_from_this<DispatcherCore> {
 public:
  using Completer = std::move_only_function<void()>;

  DispatcherCore(ThreadPool* pool, Reactor* reactor, std::string name, bool power_managed);
  ~DispatcherCore() override;

  const std::string& name() const { return name_; }
  bool power_managed() const { return power_managed_; }
  Reactor* reactor() const { return reactor_; }

  Result<void> Post(Task task) TRELLIS_EXCLUDES(mu_);
  Result<void> PostSystem(Task task) TRELLIS_EXCLUDES(mu_);
  Result<void> PostAt(Clock::time_point deadline, Task task) TRELLIS_EXCLUDES(mu_);
  Result<void> Shutdown(Completer observer) TRELLIS_EXCLUDES(mu_);
  Result<void> Suspend(Completer on_suspended) TRELLIS_EXCLUDES(mu_);
  Result<void> Resume(Task wake_task) TRELLIS_EXCLUDES(mu_);
  bool is_shut_down() const;
  bool is_suspended() const;

  // ---- Reactor hooks ----
  // Counts an operation the reactor has accepted for this dispatcher; fails
  // once the dispatcher is shut down.
  Result<void> OpStarted() TRELLIS_EXCLUDES(mu_);
  // `count` operations' CQEs have arrived and their handlers were delivered.
  // May destroy this core (when it held the last reference): the caller
  // must not touch it afterwards.
  void OpsFinished(size_t count = 1) TRELLIS_EXCLUDES(mu_);
  // Queues `task` (a completion handler) like Post, or drops it if the
  // dispatcher is shut down. The reactor runs handlers inline itself, via
  // TryEnterInline, when the dispatcher is idle.
  void Deliver(Task task) TRELLIS_EXCLUDES(mu_);
  // As Deliver, as a system task (runs while suspended).
  void DeliverSystem(Task task) TRELLIS_EXCLUDES(mu_);
  // Claims the dispatcher for an inline run on this thread if it is idle,
  // running and has nothing queued; pair with ExitInline(). With `system`,
  // for a system task: only idle with no system task queued (suspended or
  // not).
  bool TryEnterInline(bool system = false) TRELLIS_EXCLUDES(mu_);
  // Ends the inline run; with `rounds` > 0, tasks it posted to this
  // dispatcher run right here for up to that many rounds (RunRounds).
  void ExitInline(int rounds = 0) TRELLIS_EXCLUDES(mu_);
  // Rounds a pool slice runs before yielding the worker.
  static constexpr int kMaxRounds = 4;
  // Runs `task` as a system task on this thread, now, if the dispatcher is
  // idle and has no system task queued (suspended or not), and returns true;
  // otherwise returns false and leaves `task` untouched for the caller to
  // post. A batch of lifecycle calls on a runtime thread visits each
  // driver's dispatcher this way instead of waking a worker per driver.
  bool TryRunSystemInline(Task& task) TRELLIS_EXCLUDES(mu_);
  // During an inline run: a suspend or shutdown wants no further task
  // started; queue the rest with Deliver instead.
  bool stop_requested() const { return stop_managed_.load(std::memory_order_acquire); }

  // The core whose task is running on this thread, or null.
  static DispatcherCore* Current();

  // ThreadPool::TimerTarget: moves due delayed tasks into the queue.
  void OnTimer(Clock::time_point now) override TRELLIS_EXCLUDES(mu_);

 private:
  enum class Run { kIdle, kScheduled, kRunning };
  enum class Power { kRunning, kSuspending, kSuspended };

  // Pool entry point: RunRounds(kMaxRounds).
  void RunSlice() TRELLIS_EXCLUDES(mu_);
  // Runs the queued tasks, then what they posted, up to `rounds` times;
  // then settles (rescheduling on the pool if work is left). The caller
  // holds the claim (run_ is kScheduled).
  void RunRounds(int rounds) TRELLIS_EXCLUDES(mu_);
  // Runs the system tasks, then the managed ones front to back, stopping
  // early if a suspend or shutdown asks to stop starting tasks; then settles.
  // Returns Settle's answer.
  bool RunBatches(std::deque<Task> system, std::deque<Task> managed, bool may_continue)
      TRELLIS_EXCLUDES(mu_);
  // After a batch: requeues leftovers (either may be null: nothing left),
  // completes a pending suspend, fires the shutdown observer, and, if more
  // work arrived, either claims it for the caller (`may_continue`; returns
  // true) or schedules a slice on the pool. (Pointers, not values: an empty
  // std::deque still allocates, and this runs after every inline completion.)
  bool Settle(std::deque<Task>* system_left, std::deque<Task>* managed_left, bool may_continue)
      TRELLIS_EXCLUDES(mu_);
  // Schedules a slice on the pool if work is runnable; returns whether it did.
  bool MaybeScheduleLocked() TRELLIS_REQUIRES(mu_);
  // Takes the observer if shutdown may now complete.
  Completer TakeObserverIfDoneLocked() TRELLIS_REQUIRES(mu_);
  // Deliver / DeliverSystem into `queue` (queue_ or system_).
  void DeliverTo(std::deque<Task>& queue, Task task) TRELLIS_EXCLUDES(mu_);
  bool HasRunnableWorkLocked() const TRELLIS_REQUIRES(mu_) {
    return !shutdown_ && (!system_.empty() || (power_ == Power::kRunning && !queue_.empty()));
  }
  void FireObserver(Completer observer);

  ThreadPool* const pool_;
  Reactor* const reactor_;
  const std::string name_;
  const bool power_managed_;

  mutable Mutex mu_;
  std::deque<Task> queue_ TRELLIS_GUARDED_BY(mu_);
  // System tasks run even while suspended, before managed ones.
  std::deque<Task> system_ TRELLIS_GUARDED_BY(mu_);
  // Delayed tasks by (deadline, arming order).
  std::map<std::pair<Clock::time_point, uint64_t>, Task> delayed_ TRELLIS_GUARDED_BY(mu_);
  uint64_t delayed_seq_ TRELLIS_GUARDED_BY(mu_) = 0;
  Run run_ TRELLIS_GUARDED_BY(mu_) = Run::kIdle;
  Power power_ TRELLIS_GUARDED_BY(mu_) = Power::kRunning;
  bool shutdown_ TRELLIS_GUARDED_BY(mu_) = false;
  // Reactor operations in flight. Atomic, so the I/O hot path takes no lock;
  // paired with stop_all_ (both seq_cst) so that Shutdown or the last
  // OpsFinished — at least one — sees the other and fires the observer.
  std::atomic<size_t> inflight_ops_{0};
  // Keeps this core alive while operations are in flight, so the reactor
  // can hold plain pointers to it. Set on the count's 0→1 step, dropped on
  // 1→0; both steps re-check the count under mu_.
  std::shared_ptr<DispatcherCore> self_while_inflight_ TRELLIS_GUARDED_BY(mu_);
  Completer observer_ TRELLIS_GUARDED_BY(mu_);
  Completer on_suspended_ TRELLIS_GUARDED_BY(mu_);
  // Read between tasks without the lock: set when a suspend or shutdown wants
  // the running batch to stop starting managed tasks (stop_managed_) or any
  // task (stop_all_, shutdown only).
  std::atomic<bool> stop_managed_{false};
  std::atomic<bool> stop_all_{false};
  // The dispatcher that was current on this thread before an inline run.
  DispatcherCore* saved_current_ = nullptr;
};

}  // namespace trellis::internal
