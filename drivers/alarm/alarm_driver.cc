#include "drivers/alarm/alarm_driver.h"

#include <poll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>

#include "runtime/driver/driver_export.h"

namespace trellis::drivers {

namespace {

AlarmQueue::Deadline BootTimeNow() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

}  // namespace

AlarmDriver::~AlarmDriver() {
  if (timer_fd_ >= 0) close(timer_fd_);
}

void AlarmDriver::Start(StartCompleter completer) {
  timer_fd_ = timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK | TFD_CLOEXEC);
  if (timer_fd_ < 0) {
    completer(FailErrno(errno, "timerfd_create(CLOCK_BOOTTIME)"));
    return;
  }
  if (auto served = context().Serve<DeviceProtocol>(*this); !served) {
    completer(Fail(served.error()));
    return;
  }
  if (auto served = context().Serve<AlarmProtocol>(*this); !served) {
    completer(Fail(served.error()));
    return;
  }
  completer(Ok());
}

void AlarmDriver::Stop(StopCompleter completer) {
  *alive_ = false;
  wake_watch_.Disarm();
  plain_watch_ = Operation();
  if (timer_fd_ >= 0) close(timer_fd_);
  timer_fd_ = -1;
  upcalls_.clear();
  watchers_.clear();
  completer();
}

Result<int64_t> AlarmDriver::Command(const Caller& caller, uint32_t minor, uint64_t arg1,
                                     uint64_t arg2) {
  switch (minor) {
    case 0:
      return 0;
    case 1: {
      if (arg2 > 1) {
        return Fail(ErrorCode::kInvalidArgument,
                    "wake flag must be 0 or 1, got " + std::to_string(arg2));
      }
      if (arg1 > static_cast<uint64_t>(kMaxDelay.count())) {
        return Fail(ErrorCode::kInvalidArgument,
                    "alarm delay " + std::to_string(arg1) + " ms is longer than " +
                        std::to_string(kMaxDelay.count()) + " ms");
      }
      TRELLIS_ASSIGN_OR_RETURN(uint64_t id,
                               SetAlarm(caller, std::chrono::milliseconds(arg1), arg2 == 1));
      return static_cast<int64_t>(id);
    }
    case 2:
      TRELLIS_TRY(CancelAlarm(caller, arg1));
      return 0;
    case 3:
      return static_cast<int64_t>(fired_);
    default:
      return Fail(ErrorCode::kUnimplemented, "alarm has no command " + std::to_string(minor));
  }
}

Result<void> AlarmDriver::Subscribe(const Caller& caller, uint32_t minor, Upcall upcall) {
  if (minor != 1) {
    return Fail(ErrorCode::kUnimplemented,
                "alarm delivers upcalls on minor 1 only, not " + std::to_string(minor));
  }
  upcalls_[caller.client_id] = std::move(upcall);
  return Ok();
}

Result<uint64_t> AlarmDriver::SetAlarm(const Caller&, std::chrono::nanoseconds after, bool wake) {
  if (after < std::chrono::nanoseconds(0) || after > kMaxDelay) {
    return Fail(ErrorCode::kInvalidArgument,
                "alarm delay " + std::to_string(after.count()) + " ns is not in 0.." +
                    std::to_string(kMaxDelay.count()) + " ms");
  }
  uint64_t id = queue_.Add(BootTimeNow() + after, wake);
  if (auto armed = Rearm(); !armed) {
    queue_.Cancel(id);
    (void)Rearm();
    return Fail(std::move(armed).error().WithContext("while arming alarm"));
  }
  return id;
}

Result<void> AlarmDriver::CancelAlarm(const Caller&, uint64_t id) {
  if (!queue_.Cancel(id)) {
    return Fail(ErrorCode::kNotFound, "no armed alarm " + std::to_string(id));
  }
  if (auto armed = Rearm(); !armed) {
    context().LogError("alarm: re-arming after cancel: " + armed.error().ToString());
  }
  return Ok();
}

Result<void> AlarmDriver::WatchAlarms(const Caller& caller, Upcall fired) {
  watchers_[caller.client_id] = std::move(fired);
  return Ok();
}

Result<void> AlarmDriver::Rearm() {
  std::optional<AlarmQueue::Next> next = queue_.Earliest();
  TRELLIS_TRY(ProgramTimer(next));
  if (!next) {
    wake_watch_.Disarm();
    plain_watch_ = Operation();
    return Ok();
  }
  if (next->wake) {
    plain_watch_ = Operation();
    if (wake_watch_.armed()) return Ok();
    auto armed = WatchWithWakeVector();
    if (armed) return Ok();
    // Without a wake vector the alarm still fires, it just cannot wake.
    if (!warned_no_wake_vector_) {
      warned_no_wake_vector_ = true;
      context().LogWarning("alarm: cannot arm a wake vector, wake alarms will not wake the "
                           "system: " + armed.error().ToString());
    }
  } else {
    wake_watch_.Disarm();
  }
  if (plain_watch_.pending()) return Ok();
  return WatchPlain();
}

Result<void> AlarmDriver::ProgramTimer(const std::optional<AlarmQueue::Next>& next) {
  itimerspec spec{};
  int flags = 0;
  if (next) {
    // An all-zero it_value would disarm the timer; boot time is never 0.
    auto ns = std::max(next->deadline, AlarmQueue::Deadline(1)).count();
    spec.it_value.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
    spec.it_value.tv_nsec = static_cast<long>(ns % 1'000'000'000);
    flags = TFD_TIMER_ABSTIME;
  }
  if (timerfd_settime(timer_fd_, flags, &spec, nullptr) != 0) {
    return FailErrno(errno, "timerfd_settime");
  }
  return Ok();
}

Result<void> AlarmDriver::WatchWithWakeVector() {
  TRELLIS_ASSIGN_OR_RETURN(wake_watch_,
                           context().ArmWakeVector(timer_fd_, POLLIN, "alarm",
                                                   [this, alive = alive_](int) {
                                                     if (*alive) OnTimer();
                                                   }));
  return Ok();
}

Result<void> AlarmDriver::WatchPlain() {
  TRELLIS_ASSIGN_OR_RETURN(
      plain_watch_,
      context().reactor().FdReady(
          timer_fd_, POLLIN,
          [this, alive = alive_](Completion completion) {
            if (!*alive) return;
            if (!completion.ok()) {
              context().LogError("alarm: watching the timerfd: " +
                                 completion.status("poll timerfd").error().ToString());
              return;
            }
            OnTimer();
          },
          {.dispatcher = context().dispatcher()}));
  return Ok();
}

void AlarmDriver::OnTimer() {
  uint64_t expirations = 0;
  // Clears the fd's readiness; EAGAIN when woken by a stale watch.
  (void)!read(timer_fd_, &expirations, sizeof(expirations));
  // Ended subscriptions and watches are dropped as they are found.
  auto notify = [](std::map<uint64_t, Upcall>& sinks, uint64_t arg0, uint64_t arg1) {
    std::erase_if(sinks, [&](auto& entry) { return !entry.second.Schedule(arg0, arg1); });
  };
  for (const AlarmQueue::Alarm& alarm : queue_.PopDue(BootTimeNow())) {
    ++fired_;
    notify(upcalls_, alarm.id, fired_);
    notify(watchers_, alarm.id, fired_);
  }
  if (auto armed = Rearm(); !armed) {
    context().LogError("alarm: re-arming after firing: " + armed.error().ToString());
  }
}

}  // namespace trellis::drivers

TRELLIS_DRIVER_EXPORT(trellis::drivers::AlarmDriver);
