#include "runtime/thread_pool.h"

#include <pthread.h>

namespace trellis {

namespace {
[[gnu::tls_model("initial-exec")]] thread_local const ThreadPool* tls_worker_of = nullptr;
}  // namespace

ThreadPool::ThreadPool(size_t threads, std::string name) : name_(std::move(name)) {
  if (threads == 0) threads = 1;
  workers_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) {
    workers_.emplace_back([this, i] {
      std::string thread_name = (name_ + "-" + std::to_string(i)).substr(0, 15);
      pthread_setname_np(pthread_self(), thread_name.c_str());
      WorkerLoop();
    });
  }
}

ThreadPool::~ThreadPool() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  cv_.NotifyAll();
  for (auto& worker : workers_) worker.join();
  // Destroy leftovers outside the lock: their destructors may post.
  std::deque<Task> leftovers;
  {
    MutexLock lock(mu_);
    leftovers.swap(ready_);
  }
}

bool ThreadPool::IsWorkerThread() const { return tls_worker_of == this; }

void ThreadPool::Schedule(Task task) {
  bool wake = false;
  {
    MutexLock lock(mu_);
    ready_.push_back(std::move(task));
    wake = idle_workers_ > 0;
  }
  if (wake) cv_.NotifyOne();
}

void ThreadPool::ScheduleTimer(Clock::time_point deadline,
                               std::weak_ptr<TimerTarget> target) {
  bool wake = false;
  {
    MutexLock lock(mu_);
    wake = timers_.empty() || deadline < timers_.top().deadline;
    timers_.push(TimerEntry{deadline, timer_seq_++, std::move(target)});
    wake = wake && idle_workers_ > 0;
  }
  // An idle worker may be sleeping until a later deadline; let it re-arm.
  if (wake) cv_.NotifyOne();
}

std::vector<ThreadPool::TimerEntry> ThreadPool::TakeDueTimers(Clock::time_point now) {
  std::vector<TimerEntry> due;
  while (!timers_.empty() && timers_.top().deadline <= now) {
    due.push_back(timers_.top());
    timers_.pop();
  }
  return due;
}

void ThreadPool::WorkerLoop() {
  tls_worker_of = this;
  for (;;) {
    Task task;
    std::vector<TimerEntry> due;
    {
      MutexLock lock(mu_);
      for (;;) {
        if (stopping_) return;
        if (!timers_.empty()) {
          due = TakeDueTimers(Clock::now());
          if (!due.empty()) break;
        }
        if (!ready_.empty()) {
          task = std::move(ready_.front());
          ready_.pop_front();
          break;
        }
        ++idle_workers_;
        if (timers_.empty()) {
          cv_.Wait(mu_);
        } else {
          cv_.WaitUntil(mu_, timers_.top().deadline);
        }
        --idle_workers_;
      }
    }
    if (!due.empty()) {
      Clock::time_point now = Clock::now();
      for (auto& entry : due) {
        if (auto target = entry.target.lock()) target->OnTimer(now);
      }
    } else {
      task();
      task = nullptr;  // Destroy captures before the turn ends.
    }
    if (turn_end_hook_) turn_end_hook_();
  }
}

}  // namespace trellis
