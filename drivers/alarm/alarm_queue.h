// AlarmQueue: the deadline bookkeeping of the alarm driver. No clock, no fd,
// no threads: deadlines are plain durations since an epoch the caller picks
// (the driver uses CLOCK_BOOTTIME), so the queue is tested without waiting.
// Not thread-safe; the driver touches it only on its dispatcher.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

namespace trellis::drivers {

class AlarmQueue {
 public:
  using Deadline = std::chrono::nanoseconds;

  struct Alarm {
    uint64_t id = 0;
    Deadline deadline{};
    bool wake = false;
    friend bool operator==(const Alarm&, const Alarm&) = default;
  };

  // The next deadline, and whether an alarm due then may wake the system.
  struct Next {
    Deadline deadline{};
    bool wake = false;
  };

  // Arms an alarm; returns its id (> 0, increasing, never reused).
  uint64_t Add(Deadline deadline, bool wake);
  // Disarms alarm `id`; false if it is not armed (fired, cancelled, unknown).
  bool Cancel(uint64_t id);
  // Removes and returns every alarm due at `now` (deadline <= now), earliest
  // first; alarms with equal deadlines in id order.
  std::vector<Alarm> PopDue(Deadline now);
  // The earliest armed deadline; nullopt when nothing is armed. `wake` is
  // true if any alarm with exactly that deadline is a wake alarm.
  std::optional<Next> Earliest() const;
  // True if any armed alarm is a wake alarm.
  bool AnyWake() const { return wake_count_ > 0; }

  size_t size() const { return alarms_.size(); }
  bool empty() const { return alarms_.empty(); }

 private:
  // id → (deadline, wake); `order_` sorts the same alarms by deadline.
  std::map<uint64_t, std::pair<Deadline, bool>> alarms_;
  std::set<std::pair<Deadline, uint64_t>> order_;
  size_t wake_count_ = 0;
  uint64_t next_id_ = 1;
};

}  // namespace trellis::drivers
