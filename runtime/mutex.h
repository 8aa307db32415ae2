// Mutex, MutexLock and CondVar: std::mutex and std::condition_variable with
// thread-safety annotations, so TRELLIS_GUARDED_BY is checked by clang.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "runtime/thread_annotations.h"

namespace trellis {

class TRELLIS_CAPABILITY("mutex") Mutex {
 public:
  void lock() TRELLIS_ACQUIRE() { mu_.lock(); }
  void unlock() TRELLIS_RELEASE() { mu_.unlock(); }

 private:
  friend class CondVar;
  std::mutex mu_;
};

class TRELLIS_SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) TRELLIS_ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~MutexLock() TRELLIS_RELEASE() { mu_.unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex& mu_;
};

class CondVar {
 public:
  // Waits until notified (spurious wake-ups possible; callers loop).
  void Wait(Mutex& mu) TRELLIS_REQUIRES(mu) {
    std::unique_lock<std::mutex> lock(mu.mu_, std::adopt_lock);
    cv_.wait(lock);
    lock.release();
  }
  // Waits until notified or `deadline`; returns false on timeout.
  template <typename Clock, typename Duration>
  bool WaitUntil(Mutex& mu, std::chrono::time_point<Clock, Duration> deadline)
      TRELLIS_REQUIRES(mu) {
    std::unique_lock<std::mutex> lock(mu.mu_, std::adopt_lock);
    bool notified = cv_.wait_until(lock, deadline) == std::cv_status::no_timeout;
    lock.release();
    return notified;
  }
  void NotifyOne() { cv_.notify_one(); }
  void NotifyAll() { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

}  // namespace trellis
