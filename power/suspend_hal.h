// SuspendHal: how the governor enters the system's low-power state once
// every driver is suspended.
//
//  - simulated (default): entering returns at once and the system stays
//    "suspended" until a wake vector, a lease or Power.Resume wakes it.
//  - linux-sysfs: writes "mem" to the state file (/sys/power/state; tests
//    point it at a plain file). The write blocks while the machine sleeps
//    and returns on wake, so the HAL reports the wake itself; EBUSY (a
//    wakeup event raced the write) fails the suspend.
//
// Threading: Enter's callback may run on any thread; the governor hops to
// its dispatcher.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "runtime/error.h"

namespace trellis::power {

class SuspendHal {
 public:
  // Called when the HAL itself ends the low-power state: Ok(reason) on a
  // wake, an error if entering failed.
  using Woke = std::move_only_function<void(Result<std::string>)>;

  virtual ~SuspendHal() = default;
  // "simulated" or "linux-sysfs:<path>".
  virtual std::string name() const = 0;
  // Enters the low-power state. `woke` runs at most once; a HAL that only
  // leaves the state when told (simulated) never calls it.
  virtual void Enter(Woke woke) = 0;
  // The system is being woken by someone else (wake vector, lease, resume
  // request): leave the low-power state.
  virtual void Wake() = 0;
};

std::unique_ptr<SuspendHal> MakeSimulatedHal();
// Errors: kInvalidArgument for an empty path.
Result<std::unique_ptr<SuspendHal>> MakeSysfsHal(std::filesystem::path state_file);

// Parses a --suspend-hal flag: "simulated", "linux-sysfs" (uses
// /sys/power/state) or "linux-sysfs:<path>".
// Errors: kInvalidArgument naming the flag value.
Result<std::unique_ptr<SuspendHal>> MakeHalFromSpec(std::string_view spec);

}  // namespace trellis::power
