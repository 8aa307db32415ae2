// power-probe: a test driver for suspend/resume tests. It logs every
// lifecycle event to a file shared by all probes, its suspend and resume
// hooks can be told to fail, hang or be slow, it holds wake leases on
// request and, in its wake-capable variant, arms a wake vector that tests
// fire at will.
//
// Node properties it reads at Start:
//   probe.depth, probe.children (int, default 0): like echo, adds `depth`
//       levels of `children` children (named c0, c1, ...) before Start
//       completes. Children copy this node's properties (so the same
//       trellis.compatible and probe.log) with probe.depth - 1.
//   probe.log (string): file to which one line "<event> <node_path>\n" is
//       appended per event, with a single O_APPEND write(2), so lines from
//       many hosts never interleave. Events: start, stop, suspend, resume,
//       prepare-stop, resume-lease (SystemResume got the wake's lease), wake-task (the
//       wake vector's handler ran), task (a task posted by minor 5 ran).
//       suspend/resume are logged just before the hook completes OK; a
//       failed resume logs resume-failed; any other failed or hung hook
//       logs nothing.
//   probe.suspend_mode, probe.resume_mode (int, default 0) and
//   probe.suspend_delay_ms, probe.resume_delay_ms (int, default 0): the
//       initial hook behaviour, as minors 10 and 11 set it.
//   probe.wake_fifo (string, wake-capable only; not copied to children): the
//       wake vector watches this FIFO instead of an eventfd, so a test fires
//       it by writing a byte to the FIFO.
//
// Device protocol (minor numbers):
//   0  presence check: returns 0
//   1  the number of SystemSuspend calls completed OK
//   2  the number of SystemResume calls completed OK
//   3  1 if the driver considers itself suspended, else 0
//   4  arg1 = 1: acquires the wake lease "probe-hold" (granted
//      asynchronously; a no-op if held or pending); arg1 = 0: releases it.
//      Returns 0 at once.
//   5  posts a task to the driver's dispatcher that logs "task"
//   6  1 while the "probe-hold" lease is held, else 0
//   7  fires the wake vector (writes to the eventfd or FIFO);
//      kFailedPrecondition unless wake-capable
//   8  hands the "probe-hold" lease over to the token of 32 hex digits
//      arg1 then arg2 (DriverContext::HandOffWakeLease), as a driver does
//      when a client acknowledges an event with its token; returns 0 at
//      once, kFailedPrecondition if the lease is not held
//   12 arg1 = 2: PrepareStop hangs (never completes); 0: it logs
//      "prepare-stop" and completes (the default)
//   10 sets the suspend hook's mode, 11 the resume hook's: arg1 = 0 ok,
//      1 fail (kInternal "injected failure in <hook> at <node_path>"),
//      2 hang (never completes), 3 slow (completes OK after arg2 ms, timed
//      on an unmanaged dispatcher of the driver's own)
//
// Wake-capable (manifest power.wake_capable): arms a wake vector at Start;
// its handler drains the fd, logs "wake-task", re-arms and then drops the
// lease SystemResume got (if any).
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "runtime/driver/device_protocol.h"
#include "runtime/driver/driver_export.h"
#include "runtime/mutex.h"

namespace trellis::testing {

// Named, not anonymous: PowerProbeDriver's members use these types.
namespace power_probe {

enum class HookMode : uint64_t { kOk = 0, kFail = 1, kHang = 2, kSlow = 3 };

struct HookConfig {
  HookMode mode = HookMode::kOk;
  uint64_t delay_ms = 0;  // kSlow only.
};

constexpr uint64_t kMaxDelayMs = 10 * 60 * 1000;

Result<HookConfig> ParseHookConfig(uint64_t mode, uint64_t delay_ms, std::string_view hook) {
  if (mode > static_cast<uint64_t>(HookMode::kSlow)) {
    return Fail(ErrorCode::kInvalidArgument,
                std::string(hook) + " mode must be 0 (ok), 1 (fail), 2 (hang) or 3 (slow), got " +
                    std::to_string(mode));
  }
  if (delay_ms > kMaxDelayMs) {
    return Fail(ErrorCode::kInvalidArgument, std::string(hook) + " delay must be at most " +
                                                 std::to_string(kMaxDelayMs) + " ms, got " +
                                                 std::to_string(delay_ms));
  }
  return HookConfig{static_cast<HookMode>(mode), delay_ms};
}

uint64_t IntProperty(const NodeProperties& props, std::string_view key, uint64_t fallback) {
  const PropertyValue* v = FindProperty(props, key);
  if (v == nullptr || !std::holds_alternative<uint64_t>(*v)) return fallback;
  return std::get<uint64_t>(*v);
}

std::string StringProperty(const NodeProperties& props, std::string_view key) {
  const PropertyValue* v = FindProperty(props, key);
  if (v == nullptr || !std::holds_alternative<std::string>(*v)) return "";
  return std::get<std::string>(*v);
}

}  // namespace power_probe

using namespace power_probe;

class PowerProbeDriver final : public Driver, public DeviceProtocol {
 public:
  explicit PowerProbeDriver(DriverContext context)
      : Driver(context), node_(context.node_path()) {}

  // Also runs without Stop when Start failed.
  ~PowerProbeDriver() override {
    wake_vector_.Disarm();
    if (wake_fd_ >= 0) close(wake_fd_);
    if (log_fd_ >= 0) close(log_fd_);
  }

  void Start(StartCompleter completer) override {
    if (auto ready = Setup(); !ready) {
      completer(Fail(std::move(ready).error()));
      return;
    }
    const NodeProperties& props = context().start_args().properties;
    AddChildren(IntProperty(props, "probe.depth", 0), IntProperty(props, "probe.children", 0), 0,
                std::move(completer));
  }

  void PrepareStop(PrepareStopCompleter completer) override {
    if (hang_prepare_stop_) {
      hung_prepare_stop_ = std::move(completer);  // Never completed: the host is killed.
      return;
    }
    Log("prepare-stop");
    completer();
  }

  void Stop(StopCompleter completer) override {
    *alive_ = false;
    wake_vector_.Disarm();
    if (wake_fd_ >= 0) close(wake_fd_);
    wake_fd_ = -1;
    ++hold_generation_;
    hold_pending_ = false;
    hold_lease_.Release();
    WakeLease resume_lease;
    {
      MutexLock lock(mu_);
      resume_lease = std::move(resume_lease_);
    }
    resume_lease.Release();
    hung_suspend_ = SuspendCompleter();
    hung_resume_ = ResumeCompleter();
    Log("stop");
    if (!timers_) {
      completer();
      return;
    }
    // Completes once the timer dispatcher has drained: no slow hook is then
    // still running. If Shutdown fails it drops the observer, which
    // completes too (a dropped StopCompleter runs).
    (void)timers_.Shutdown([completer = std::move(completer)]() mutable { completer(); });
  }

  // Runs on the driver's dispatcher (a system task), serialized with
  // Command, so suspend_ needs no lock.
  void SystemSuspend(SuspendCompleter completer) override {
    switch (suspend_.mode) {
      case HookMode::kOk:
        FinishSuspend(std::move(completer));
        return;
      case HookMode::kFail:
        completer(Fail(InjectedFailure("suspend")));
        return;
      case HookMode::kHang:
        hung_suspend_ = std::move(completer);
        return;
      case HookMode::kSlow:
        Later(suspend_.delay_ms, [this, completer = std::move(completer)]() mutable {
          FinishSuspend(std::move(completer));
        });
        return;
    }
  }

  void SystemResume(std::optional<WakeLease> lease, ResumeCompleter completer) override {
    switch (resume_.mode) {
      case HookMode::kOk:
        FinishResume(std::move(lease), std::move(completer));
        return;
      case HookMode::kFail:
        // The call was made: the manager will not resume this driver again.
        Log("resume-failed");
        completer(Fail(InjectedFailure("resume")));
        return;
      case HookMode::kHang:
        hung_resume_ = std::move(completer);
        return;
      case HookMode::kSlow:
        Later(resume_.delay_ms,
              [this, lease = std::move(lease), completer = std::move(completer)]() mutable {
                FinishResume(std::move(lease), std::move(completer));
              });
        return;
    }
  }

  Result<int64_t> Command(const Caller&, uint32_t minor, uint64_t arg1, uint64_t arg2) override {
    switch (minor) {
      case 0:
        return 0;
      case 1: {
        MutexLock lock(mu_);
        return static_cast<int64_t>(suspends_);
      }
      case 2: {
        MutexLock lock(mu_);
        return static_cast<int64_t>(resumes_);
      }
      case 3: {
        MutexLock lock(mu_);
        return suspended_ ? 1 : 0;
      }
      case 4:
        return HoldLease(arg1);
      case 5:
        return PostTask();
      case 6:
        return hold_lease_ ? 1 : 0;
      case 7:
        return FireWake();
      case 8:
        return HandOffHeldLease(arg1, arg2);
      case 10: {
        TRELLIS_ASSIGN_OR_RETURN(suspend_, ParseHookConfig(arg1, arg2, "suspend"));
        return 0;
      }
      case 11: {
        TRELLIS_ASSIGN_OR_RETURN(resume_, ParseHookConfig(arg1, arg2, "resume"));
        return 0;
      }
      case 12:
        if (arg1 != 0 && arg1 != 2) {
          return Fail(ErrorCode::kInvalidArgument,
                      "stop mode must be 0 (ok) or 2 (hang in PrepareStop)");
        }
        hang_prepare_stop_ = arg1 == 2;
        return 0;
      default:
        return Fail(ErrorCode::kUnimplemented,
                    "power-probe has no command " + std::to_string(minor));
    }
  }

 private:
  // Everything Start does before adding children.
  Result<void> Setup() {
    const NodeProperties& props = context().start_args().properties;
    TRELLIS_ASSIGN_OR_RETURN(suspend_,
                             ParseHookConfig(IntProperty(props, "probe.suspend_mode", 0),
                                             IntProperty(props, "probe.suspend_delay_ms", 0),
                                             "suspend"),
                             "in property probe.suspend_mode");
    TRELLIS_ASSIGN_OR_RETURN(resume_,
                             ParseHookConfig(IntProperty(props, "probe.resume_mode", 0),
                                             IntProperty(props, "probe.resume_delay_ms", 0),
                                             "resume"),
                             "in property probe.resume_mode");
    if (std::string path = StringProperty(props, "probe.log"); !path.empty()) {
      log_fd_ = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
      if (log_fd_ < 0) return FailErrno(errno, "opening probe.log " + path);
    }
    // The default dispatcher is held while suspending, so slow hooks are
    // timed on a dispatcher that is not power-managed.
    timers_ = context().CreateDispatcher({.name = "power-probe-timers", .power_managed = false});
    TRELLIS_TRY(context().Serve<DeviceProtocol>(*this));
    if (context().start_args().wake_capable) {
      TRELLIS_TRY(OpenWakeFd(StringProperty(props, "probe.wake_fifo")));
      TRELLIS_TRY(ArmWake(), "while arming the wake vector");
    }
    return Ok();
  }

  // Adds children c<next>..c<count-1> one after another, then completes
  // Start: a driver is started only once its children exist.
  void AddChildren(uint64_t depth, uint64_t count, uint64_t next, StartCompleter completer) {
    if (depth == 0 || next >= count) {
      Log("start");
      completer(Ok());
      return;
    }
    NodeProperties props;
    for (const NodeProperty& p : context().start_args().properties) {
      if (p.key != "probe.depth" && p.key != "probe.wake_fifo") props.push_back(p);
    }
    props.push_back({"probe.depth", depth - 1});
    std::string name = "c" + std::to_string(next);
    context().AddChild(
        {.name = name, .properties = std::move(props)},
        [this, depth, count, next, name, completer = std::move(completer)](
            Result<std::string> added) mutable {
          if (!added) {
            completer(Fail(std::move(added).error().WithContext("while adding child " + name)));
            return;
          }
          AddChildren(depth, count, next + 1, std::move(completer));
        });
  }

  // May run on the timer dispatcher (slow mode). Logs before completing, so
  // the log orders hooks as the manager sees them complete.
  void FinishSuspend(SuspendCompleter completer) {
    {
      MutexLock lock(mu_);
      suspended_ = true;
      ++suspends_;
    }
    Log("suspend");
    completer(Ok());
  }

  void FinishResume(std::optional<WakeLease> lease, ResumeCompleter completer) {
    bool with_lease = lease.has_value() && static_cast<bool>(*lease);
    {
      MutexLock lock(mu_);
      suspended_ = false;
      ++resumes_;
      // Kept until the wake task has run.
      if (with_lease) resume_lease_ = std::move(*lease);
    }
    Log(with_lease ? "resume-lease" : "resume");
    if (with_lease) {
      // Queued now, so it runs right after the wake task (which runs before
      // every queued task) — or at once if the wake was handled before this
      // driver was suspended: the lease never outlives the wake's handling.
      (void)context().dispatcher().Post([this] {
        WakeLease lease;
        {
          MutexLock lock(mu_);
          lease = std::move(resume_lease_);
        }
      });
    }
    completer(Ok());
  }

  // Runs `task` after `delay_ms` on the timer dispatcher. If posting fails
  // the task is dropped, and the completer it owns fails the hook.
  void Later(uint64_t delay_ms, Task task) {
    auto posted = timers_.PostAfter(std::chrono::milliseconds(delay_ms), std::move(task));
    if (!posted) context().LogError("power-probe: " + posted.error().ToString());
  }

  Error InjectedFailure(std::string_view hook) const {
    return Error(ErrorCode::kInternal,
                 "injected failure in " + std::string(hook) + " at " + node_);
  }

  Result<int64_t> HoldLease(uint64_t hold) {
    if (hold > 1) {
      return Fail(ErrorCode::kInvalidArgument, "arg1 must be 1 (hold) or 0 (release), got " +
                                                   std::to_string(hold));
    }
    if (hold == 0) {
      ++hold_generation_;  // A grant still on its way is dropped.
      hold_pending_ = false;
      hold_lease_.Release();
      return 0;
    }
    if (hold_lease_ || hold_pending_) return 0;
    hold_pending_ = true;
    uint64_t generation = ++hold_generation_;
    context().AcquireWakeLease(
        "probe-hold", [this, alive = alive_, generation](Result<WakeLease> lease) {
          if (!*alive || generation != hold_generation_) return;  // Released meanwhile.
          hold_pending_ = false;
          if (!lease) {
            context().LogWarning("power-probe: wake lease refused: " +
                                 lease.error().ToString());
            return;
          }
          hold_lease_ = std::move(*lease);
        });
    return 0;
  }

  Result<int64_t> HandOffHeldLease(uint64_t high, uint64_t low) {
    if (!hold_lease_) return Fail(ErrorCode::kFailedPrecondition, "no probe-hold lease is held");
    char token[33];
    std::snprintf(token, sizeof token, "%016llx%016llx", static_cast<unsigned long long>(high),
                  static_cast<unsigned long long>(low));
    context().HandOffWakeLease(std::move(hold_lease_), token, [this, alive = alive_](Result<void> done) {
      if (*alive && !done) {
        context().LogWarning("power-probe: hand-off failed: " + done.error().ToString());
      }
    });
    return 0;
  }

  Result<int64_t> PostTask() {
    auto posted = context().dispatcher().Post([this, alive = alive_] {
      if (*alive) Log("task");
    });
    if (!posted) return Fail(posted.error());
    return 0;
  }

  Result<void> OpenWakeFd(const std::string& fifo) {
    if (fifo.empty()) {
      wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
      if (wake_fd_ < 0) return FailErrno(errno, "eventfd");
      return Ok();
    }
    // Read-write: the driver is itself a writer, so the read end never polls
    // POLLHUP once a test's writer closes, and a test's non-blocking
    // O_WRONLY open always finds a reader.
    wake_fd_ = open(fifo.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (wake_fd_ < 0) return FailErrno(errno, "opening probe.wake_fifo " + fifo);
    wake_is_fifo_ = true;
    return Ok();
  }

  Result<void> ArmWake() {
    TRELLIS_ASSIGN_OR_RETURN(
        wake_vector_,
        context().ArmWakeVector(wake_fd_, POLLIN, wake_is_fifo_ ? "probe fifo" : "probe eventfd",
                                [this, alive = alive_](int) {
                                  if (*alive) OnWake();
                                }));
    return Ok();
  }

  // The wake vector's handler, on the driver's dispatcher.
  void OnWake() {
    // Drain, so the re-armed vector waits for the next write.
    char buf[64];
    while (read(wake_fd_, buf, sizeof(buf)) > 0) {
    }
    Log("wake-task");
    if (auto armed = ArmWake(); !armed) {
      context().LogError("power-probe: re-arming the wake vector: " + armed.error().ToString());
    }
    // Re-armed first, so no wake is missed once the lease is gone.
    WakeLease lease;
    {
      MutexLock lock(mu_);
      lease = std::move(resume_lease_);
    }
    lease.Release();
  }

  Result<int64_t> FireWake() {
    if (wake_fd_ < 0) {
      return Fail(ErrorCode::kFailedPrecondition, "power-probe at " + node_ +
                                                      " is not wake-capable");
    }
    uint64_t one = 1;  // An eventfd takes 8 bytes; a FIFO any byte.
    ssize_t n = wake_is_fifo_ ? write(wake_fd_, "w", 1) : write(wake_fd_, &one, sizeof(one));
    // EAGAIN: the FIFO is full, or the eventfd's counter is; a wake is pending anyway.
    if (n < 0 && errno != EAGAIN) return FailErrno(errno, "firing the wake fd");
    return 0;
  }

  // One write(2) per line: O_APPEND keeps lines of many hosts whole.
  void Log(std::string_view event) {
    if (log_fd_ < 0) return;
    std::string line = std::string(event) + " " + node_ + "\n";
    ssize_t n = write(log_fd_, line.data(), line.size());
    if (n != static_cast<ssize_t>(line.size())) {
      context().LogWarning("power-probe: short write to probe.log");
    }
  }

  const std::string node_;
  int log_fd_ = -1;
  // The wake vector's eventfd or FIFO; -1 unless wake-capable.
  int wake_fd_ = -1;
  bool wake_is_fifo_ = false;
  WakeVector wake_vector_;
  // Not power-managed: times slow hooks while the default one is held.
  Dispatcher timers_;

  // On the driver's dispatcher only (Command, hooks, callbacks).
  HookConfig suspend_;
  HookConfig resume_;
  SuspendCompleter hung_suspend_;
  ResumeCompleter hung_resume_;
  WakeLease hold_lease_;
  bool hang_prepare_stop_ = false;
  PrepareStopCompleter hung_prepare_stop_;
  bool hold_pending_ = false;
  uint64_t hold_generation_ = 0;
  // False after Stop: callbacks already queued do nothing.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

  // Also written by slow hooks on the timer dispatcher.
  Mutex mu_;
  bool suspended_ TRELLIS_GUARDED_BY(mu_) = false;
  uint64_t suspends_ TRELLIS_GUARDED_BY(mu_) = 0;
  uint64_t resumes_ TRELLIS_GUARDED_BY(mu_) = 0;
  WakeLease resume_lease_ TRELLIS_GUARDED_BY(mu_);
};

}  // namespace trellis::testing

TRELLIS_DRIVER_EXPORT(trellis::testing::PowerProbeDriver);
