// ThreadPool: the worker threads that run dispatcher slices and delayed-task
// timers. Drivers never see it; they see Dispatchers (dispatcher.h).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <queue>
#include <string>
#include <thread>
#include <vector>

#include "runtime/mutex.h"
#include "runtime/task.h"

namespace trellis {

class ThreadPool {
 public:
  // Something with a deadline: OnTimer() runs on a worker once `deadline`
  // has passed. Held weakly, so an expired target is simply skipped.
  class TimerTarget {
   public:
    virtual ~TimerTarget() = default;
    virtual void OnTimer(Clock::time_point now) = 0;
  };

  // Starts `threads` workers named "<name>-N".
  ThreadPool(size_t threads, std::string name);
  // Stops the workers after their current closure; queued closures are
  // destroyed without running.
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Runs `task` on some worker, FIFO with other scheduled closures.
  // Thread-safe. Wakes an idle worker only if there is one.
  void Schedule(Task task) TRELLIS_EXCLUDES(mu_);

  // Calls target->OnTimer(now) on a worker at or after `deadline`. Timers
  // fire in (deadline, arming order). Thread-safe.
  void ScheduleTimer(Clock::time_point deadline, std::weak_ptr<TimerTarget> target)
      TRELLIS_EXCLUDES(mu_);

  // Called on the worker after each closure it runs: the reactor uses it to
  // submit SQEs prepared during the closure in one batch ("per turn").
  // Set before any closure is scheduled.
  void SetTurnEndHook(std::function<void()> hook) { turn_end_hook_ = std::move(hook); }

  // True on one of this pool's worker threads.
  bool IsWorkerThread() const;

  size_t size() const { return workers_.size(); }

 private:
  struct TimerEntry {
    Clock::time_point deadline;
    uint64_t seq;
    std::weak_ptr<TimerTarget> target;
    bool operator>(const TimerEntry& o) const {
      return deadline != o.deadline ? deadline > o.deadline : seq > o.seq;
    }
  };

  void WorkerLoop();
  // Pops every due timer; the caller fires them without the lock.
  std::vector<TimerEntry> TakeDueTimers(Clock::time_point now) TRELLIS_REQUIRES(mu_);

  Mutex mu_;
  CondVar cv_;
  std::deque<Task> ready_ TRELLIS_GUARDED_BY(mu_);
  std::priority_queue<TimerEntry, std::vector<TimerEntry>, std::greater<>> timers_
      TRELLIS_GUARDED_BY(mu_);
  uint64_t timer_seq_ TRELLIS_GUARDED_BY(mu_) = 0;
  size_t idle_workers_ TRELLIS_GUARDED_BY(mu_) = 0;
  bool stopping_ TRELLIS_GUARDED_BY(mu_) = false;
  std::function<void()> turn_end_hook_;
  std::string name_;
  std::vector<std::thread> workers_;
};

}  // namespace trellis
