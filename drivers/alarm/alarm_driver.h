// The alarm driver: the system's wake alarm, like an RTC alarm. Many
// one-shot alarms share one timerfd on CLOCK_BOOTTIME (time spent suspended
// counts), always programmed for the earliest deadline. `powerctl suspend
// --wake-after` arms one through the Device protocol just before the manager
// commits a suspend.
//
// Its dispatcher is not power-managed (manifest power.managed_dispatchers is
// false): it keeps running while the system is suspended. While the earliest
// armed alarm is a wake alarm the timerfd is watched through a wake vector,
// so its firing wakes the system (or aborts a suspend in progress);
// otherwise through a plain reactor FdReady, and a non-wake alarm never
// wakes the system.
//
// Device protocol (minor numbers):
//   0  presence check: returns 0, no side effect
//   1  arms an alarm: arg1 = delay in ms (0 allowed, at most 10 years),
//      arg2 = 1 to wake the system, 0 not to; returns the alarm id (> 0,
//      increasing). kInvalidArgument for a larger delay or arg2 > 1.
//   2  cancels alarm arg1: returns 0, or kNotFound "no armed alarm <id>"
//      (fired, cancelled or never armed)
//   3  returns the number of alarms that have fired
// Subscribe: minor 1, upcall (alarm_id, fired_count) for every alarm that
// fires, whoever armed it. Alarms are not tied to the client that armed them.
//
// Alarm protocol (trellis.alarm.v1.Alarm): Set, Cancel and Watch, the same
// alarms typed — minors 1 and 2 and the subscription above are shorthands
// for them.
#pragma once

#include <cstdint>
#include <map>
#include <memory>

#include "drivers/alarm/alarm_queue.h"
#include "runtime/driver/alarm_protocol.h"
#include "runtime/driver/device_protocol.h"
#include "runtime/driver/driver.h"
#include "runtime/driver/wake_vector.h"
#include "runtime/operation.h"

namespace trellis::drivers {

class AlarmDriver final : public Driver, public DeviceProtocol, public AlarmProtocol {
 public:
  explicit AlarmDriver(DriverContext context) : Driver(context) {}
  ~AlarmDriver() override;

  void Start(StartCompleter completer) override;
  void Stop(StopCompleter completer) override;

  Result<int64_t> Command(const Caller& caller, uint32_t minor, uint64_t arg1,
                          uint64_t arg2) override;
  Result<void> Subscribe(const Caller& caller, uint32_t minor, Upcall upcall) override;

  Result<uint64_t> SetAlarm(const Caller& caller, std::chrono::nanoseconds after,
                            bool wake) override;
  Result<void> CancelAlarm(const Caller& caller, uint64_t id) override;
  Result<void> WatchAlarms(const Caller& caller, Upcall fired) override;

 private:
  // Programs the timerfd for the earliest alarm and watches it: through a
  // wake vector if that alarm wakes the system, else a plain FdReady; with
  // nothing armed, disarms the timerfd and drops the watch.
  Result<void> Rearm();
  // The timerfd polled ready: fires every due alarm, then re-arms. Harmless
  // when nothing is due (a stale watch), so it may run more than once.
  void OnTimer();
  Result<void> ProgramTimer(const std::optional<AlarmQueue::Next>& next);
  Result<void> WatchWithWakeVector();
  Result<void> WatchPlain();

  // All touched only on the driver's dispatcher.
  int timer_fd_ = -1;
  AlarmQueue queue_;
  uint64_t fired_ = 0;
  WakeVector wake_watch_;
  Operation plain_watch_;
  bool warned_no_wake_vector_ = false;
  // Subscribers of minor 1, and Alarm watchers, by client id.
  std::map<uint64_t, Upcall> upcalls_;
  std::map<uint64_t, Upcall> watchers_;
  // False after Stop: a watch handler already queued must not run on.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace trellis::drivers
