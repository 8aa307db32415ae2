// AlarmProtocol: one-shot timers that may wake the system, served over gRPC
// as trellis.alarm.v1.Alarm for every driver that calls
// DriverContext::Serve<AlarmProtocol>(*this) (the alarm driver does).
//
// Methods run on the driver's dispatcher and return at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

#include "runtime/driver/device_protocol.h"
#include "runtime/error.h"

namespace trellis {

class AlarmProtocol {
 public:
  static constexpr std::string_view kName = "trellis.alarm.v1.Alarm";
  // Longest delay Set accepts (~10 years).
  static constexpr std::chrono::milliseconds kMaxDelay{uint64_t{10} * 366 * 24 * 60 * 60 * 1000};

  virtual ~AlarmProtocol() = default;

  // Arms a one-shot alarm `after` from now (time suspended counts); with
  // `wake` its firing wakes a suspended system (or aborts a suspend in
  // progress). Returns the alarm's id (> 0, increasing, never reused).
  // Errors: kInvalidArgument for a negative delay or one over kMaxDelay.
  virtual Result<uint64_t> SetAlarm(const Caller& caller, std::chrono::nanoseconds after,
                                    bool wake) = 0;
  // Disarms alarm `id`. Errors: kNotFound if it is not armed (fired,
  // cancelled or never armed).
  virtual Result<void> CancelAlarm(const Caller& caller, uint64_t id) = 0;
  // Reports every alarm that fires from now on through `fired`: one upcall
  // per alarm, arg0 = its id. One watch per client; a newer one replaces it.
  virtual Result<void> WatchAlarms(const Caller& caller, Upcall fired) = 0;
};

}  // namespace trellis
