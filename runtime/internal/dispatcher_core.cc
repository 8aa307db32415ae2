#include "runtime/internal/dispatcher_core.h"

#include <iterator>

#include "runtime/reactor.h"

namespace trellis::internal {

namespace {

// initial-exec: this library is linked at start-up, never dlopen()ed, so TLS
// accesses need no __tls_get_addr call on the hot path.
[[gnu::tls_model("initial-exec")]] thread_local DispatcherCore* tls_current = nullptr;

// Marks the calling thread as running `core`'s task for the scope.
class CurrentScope {
 public:
  explicit CurrentScope(DispatcherCore* core) : saved_(tls_current) { tls_current = core; }
  ~CurrentScope() { tls_current = saved_; }

 private:
  DispatcherCore* saved_;
};

void Prepend(std::deque<Task>& queue, std::deque<Task>& front) {
  queue.insert(queue.begin(), std::make_move_iterator(front.begin()),
               std::make_move_iterator(front.end()));
  front.clear();
}

}  // namespace

DispatcherCore::DispatcherCore(ThreadPool* pool, Reactor* reactor, std::string name,
                               bool power_managed)
    : pool_(pool), reactor_(reactor), name_(std::move(name)), power_managed_(power_managed) {}

DispatcherCore::~DispatcherCore() = default;

DispatcherCore* DispatcherCore::Current() { return tls_current; }

bool DispatcherCore::is_shut_down() const {
  MutexLock lock(mu_);
  return shutdown_;
}

bool DispatcherCore::is_suspended() const {
  MutexLock lock(mu_);
  return power_ == Power::kSuspended;
}

Result<void> DispatcherCore::Post(Task task) {
  MutexLock lock(mu_);
  if (shutdown_) {
    return Fail(ErrorCode::kFailedPrecondition, "dispatcher '" + name_ + "' is shut down");
  }
  queue_.push_back(std::move(task));
  MaybeScheduleLocked();
  return Ok();
}

Result<void> DispatcherCore::PostSystem(Task task) {
  MutexLock lock(mu_);
  if (shutdown_) {
    return Fail(ErrorCode::kFailedPrecondition, "dispatcher '" + name_ + "' is shut down");
  }
  system_.push_back(std::move(task));
  MaybeScheduleLocked();
  return Ok();
}

Result<void> DispatcherCore::PostAt(Clock::time_point deadline, Task task) {
  {
    MutexLock lock(mu_);
    if (shutdown_) {
      return Fail(ErrorCode::kFailedPrecondition, "dispatcher '" + name_ + "' is shut down");
    }
    delayed_.emplace(std::make_pair(deadline, delayed_seq_++), std::move(task));
  }
  pool_->ScheduleTimer(deadline, weak_from_this());
  return Ok();
}

void DispatcherCore::OnTimer(Clock::time_point now) {
  MutexLock lock(mu_);
  auto end = delayed_.upper_bound(std::make_pair(now, UINT64_MAX));
  for (auto it = delayed_.begin(); it != end; ++it) queue_.push_back(std::move(it->second));
  delayed_.erase(delayed_.begin(), end);
  MaybeScheduleLocked();
}

bool DispatcherCore::MaybeScheduleLocked() {
  if (run_ != Run::kIdle || !HasRunnableWorkLocked()) return false;
  run_ = Run::kScheduled;
  pool_->Schedule([self = shared_from_this()] { self->RunSlice(); });
  return true;
}

void DispatcherCore::RunSlice() { RunRounds(kMaxRounds); }

void DispatcherCore::RunRounds(int rounds) {
  // Tasks posted by a round (a task that posts its follow-up) run in the
  // next round on this thread instead of waking another worker for each;
  // after `rounds` the dispatcher goes back to the pool's queue, so it
  // cannot starve the others.
  for (int round = 1; round <= rounds; ++round) {
    std::deque<Task> system;
    std::deque<Task> managed;
    {
      MutexLock lock(mu_);
      run_ = Run::kIdle;
      if (!HasRunnableWorkLocked()) return;  // Suspended or shut down since scheduling.
      run_ = Run::kRunning;
      system.swap(system_);
      if (power_ == Power::kRunning) managed.swap(queue_);
    }
    if (!RunBatches(std::move(system), std::move(managed), round < rounds)) return;
  }
}

bool DispatcherCore::RunBatches(std::deque<Task> system, std::deque<Task> managed,
                                bool may_continue) {
  {
    CurrentScope scope(this);
    while (!system.empty() && !stop_all_.load(std::memory_order_acquire)) {
      Task task = std::move(system.front());
      system.pop_front();
      task();
    }
    while (!managed.empty() && !stop_managed_.load(std::memory_order_acquire)) {
      Task task = std::move(managed.front());
      managed.pop_front();
      task();
    }
  }
  return Settle(&system, &managed, may_continue);
}

bool DispatcherCore::Settle(std::deque<Task>* system_left, std::deque<Task>* managed_left,
                            bool may_continue) {
  Completer on_suspended;
  Completer observer;
  bool drop_leftovers = false;
  bool more = false;
  {
    MutexLock lock(mu_);
    run_ = Run::kIdle;
    if (shutdown_) {
      drop_leftovers = true;
    } else {
      if (system_left != nullptr) Prepend(system_, *system_left);
      if (managed_left != nullptr) Prepend(queue_, *managed_left);
    }
    if (power_ == Power::kSuspending) {
      power_ = Power::kSuspended;
      on_suspended = std::move(on_suspended_);
    }
    observer = TakeObserverIfDoneLocked();
    if (may_continue && HasRunnableWorkLocked()) {
      run_ = Run::kScheduled;  // Claimed for the caller's next round.
      more = true;
    } else {
      MaybeScheduleLocked();
    }
  }
  // Leftovers of a shut-down dispatcher are destroyed here, outside the lock.
  if (drop_leftovers) {
    if (system_left != nullptr) system_left->clear();
    if (managed_left != nullptr) managed_left->clear();
  }
  if (on_suspended) on_suspended();
  if (observer) FireObserver(std::move(observer));
  return more;
}

Result<void> DispatcherCore::Suspend(Completer on_suspended) {
  {
    MutexLock lock(mu_);
    if (!power_managed_) {
      return Fail(ErrorCode::kFailedPrecondition,
                  "dispatcher '" + name_ + "' is not power-managed");
    }
    if (shutdown_) {
      return Fail(ErrorCode::kFailedPrecondition, "dispatcher '" + name_ + "' is shut down");
    }
    if (power_ != Power::kRunning) {
      return Fail(ErrorCode::kFailedPrecondition,
                  "dispatcher '" + name_ + "' is already suspended or suspending");
    }
    stop_managed_.store(true, std::memory_order_release);
    if (run_ == Run::kRunning) {
      // The running task's thread completes the suspend in Settle().
      power_ = Power::kSuspending;
      on_suspended_ = std::move(on_suspended);
      return Ok();
    }
    power_ = Power::kSuspended;
  }
  if (on_suspended) on_suspended();
  return Ok();
}

Result<void> DispatcherCore::Resume(Task wake_task) {
  MutexLock lock(mu_);
  if (shutdown_) {
    return Fail(ErrorCode::kFailedPrecondition, "dispatcher '" + name_ + "' is shut down");
  }
  if (power_ != Power::kSuspended) {
    return Fail(ErrorCode::kFailedPrecondition, "dispatcher '" + name_ + "' is not suspended");
  }
  power_ = Power::kRunning;
  stop_managed_.store(false, std::memory_order_release);
  if (wake_task) queue_.push_front(std::move(wake_task));
  MaybeScheduleLocked();
  return Ok();
}

Result<void> DispatcherCore::Shutdown(Completer observer) {
  std::deque<Task> dropped_queue;
  std::deque<Task> dropped_system;
  std::map<std::pair<Clock::time_point, uint64_t>, Task> dropped_delayed;
  Completer fire;
  bool cancel_ops = false;
  {
    MutexLock lock(mu_);
    if (shutdown_) {
      return Fail(ErrorCode::kFailedPrecondition,
                  "dispatcher '" + name_ + "' is already shut down");
    }
    shutdown_ = true;
    stop_managed_.store(true, std::memory_order_release);
    stop_all_.store(true, std::memory_order_seq_cst);  // Pairs with OpsFinished.
    dropped_queue.swap(queue_);
    dropped_system.swap(system_);
    dropped_delayed.swap(delayed_);
    observer_ = observer ? std::move(observer) : Completer([] {});
    cancel_ops = inflight_ops_.load(std::memory_order_seq_cst) > 0;
    fire = TakeObserverIfDoneLocked();
  }
  // Dropped tasks are destroyed on this thread, outside the lock.
  dropped_queue.clear();
  dropped_system.clear();
  dropped_delayed.clear();
  if (cancel_ops && reactor_ != nullptr) reactor_->CancelAllFor(this);
  if (fire) FireObserver(std::move(fire));
  return Ok();
}

DispatcherCore::Completer DispatcherCore::TakeObserverIfDoneLocked() {
  if (!shutdown_ || run_ == Run::kRunning || inflight_ops_.load(std::memory_order_seq_cst) > 0 ||
      !observer_) {
    return nullptr;
  }
  return std::move(observer_);
}

void DispatcherCore::FireObserver(Completer observer) {
  // Always on a pool thread, never inside a task of this dispatcher.
  pool_->Schedule(std::move(observer));
}

Result<void> DispatcherCore::OpStarted() {
  if (inflight_ops_.fetch_add(1, std::memory_order_seq_cst) == 0) {
    // The caller holds a reference (it runs on this dispatcher or names it),
    // so shared_from_this is safe here.
    MutexLock lock(mu_);
    if (!self_while_inflight_) self_while_inflight_ = shared_from_this();
  }
  if (stop_all_.load(std::memory_order_seq_cst)) {
    OpsFinished(1);
    return Fail(ErrorCode::kFailedPrecondition, "dispatcher '" + name_ + "' is shut down");
  }
  return Ok();
}

void DispatcherCore::OpsFinished(size_t count) {
  if (inflight_ops_.fetch_sub(count, std::memory_order_seq_cst) != count) return;
  Completer observer;
  std::shared_ptr<DispatcherCore> last_reference;
  {
    MutexLock lock(mu_);
    if (inflight_ops_.load(std::memory_order_seq_cst) == 0) {
      last_reference = std::move(self_while_inflight_);
    }
    if (stop_all_.load(std::memory_order_seq_cst)) observer = TakeObserverIfDoneLocked();
  }
  if (observer) FireObserver(std::move(observer));
  // `last_reference` may be the last one: nothing below may touch `this`.
}

bool DispatcherCore::TryEnterInline(bool system) {
  {
    MutexLock lock(mu_);
    // A system task ignores the managed queue and the power state; an
    // ordinary one needs a running dispatcher with nothing queued ahead.
    bool managed_blocked = !system && (power_ != Power::kRunning || !queue_.empty());
    if (shutdown_ || run_ != Run::kIdle || !system_.empty() || managed_blocked) return false;
    run_ = Run::kRunning;
  }
  saved_current_ = tls_current;
  tls_current = this;
  return true;
}

void DispatcherCore::ExitInline(int rounds) {
  tls_current = saved_current_;
  if (Settle(nullptr, nullptr, /*may_continue=*/rounds > 0)) RunRounds(rounds);
}

bool DispatcherCore::TryRunSystemInline(Task& task) {
  if (!TryEnterInline(/*system=*/true)) return false;
  // The task may drop the last handle to this dispatcher (a driver's Stop
  // tears its instance down); ExitInline still needs the core.
  auto keep = shared_from_this();
  {
    Task run = std::move(task);
    run();
  }
  ExitInline();
  return true;
}

void DispatcherCore::DeliverSystem(Task task) { DeliverTo(system_, std::move(task)); }

void DispatcherCore::Deliver(Task task) { DeliverTo(queue_, std::move(task)); }

void DispatcherCore::DeliverTo(std::deque<Task>& queue, Task task) {
  bool dropped = false;
  {
    MutexLock lock(mu_);
    if (shutdown_) {
      dropped = true;
    } else {
      queue.push_back(std::move(task));
      MaybeScheduleLocked();
    }
  }
  if (dropped) task = nullptr;  // Destroyed outside the lock.
}

}  // namespace trellis::internal
