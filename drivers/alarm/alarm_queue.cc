#include "drivers/alarm/alarm_queue.h"

namespace trellis::drivers {

uint64_t AlarmQueue::Add(Deadline deadline, bool wake) {
  uint64_t id = next_id_++;
  alarms_.emplace(id, std::make_pair(deadline, wake));
  order_.emplace(deadline, id);
  if (wake) ++wake_count_;
  return id;
}

bool AlarmQueue::Cancel(uint64_t id) {
  auto it = alarms_.find(id);
  if (it == alarms_.end()) return false;
  auto [deadline, wake] = it->second;
  order_.erase({deadline, id});
  if (wake) --wake_count_;
  alarms_.erase(it);
  return true;
}

std::vector<AlarmQueue::Alarm> AlarmQueue::PopDue(Deadline now) {
  std::vector<Alarm> due;
  while (!order_.empty() && order_.begin()->first <= now) {
    auto [deadline, id] = *order_.begin();
    order_.erase(order_.begin());
    auto it = alarms_.find(id);
    bool wake = it->second.second;
    if (wake) --wake_count_;
    alarms_.erase(it);
    due.push_back({.id = id, .deadline = deadline, .wake = wake});
  }
  return due;
}

std::optional<AlarmQueue::Next> AlarmQueue::Earliest() const {
  if (order_.empty()) return std::nullopt;
  Next next{.deadline = order_.begin()->first};
  for (auto it = order_.begin(); it != order_.end() && it->first == next.deadline; ++it) {
    if (alarms_.at(it->second).second) {
      next.wake = true;
      break;
    }
  }
  return next;
}

}  // namespace trellis::drivers
