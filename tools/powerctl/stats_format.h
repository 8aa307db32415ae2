// The human text of `powerctl stats` past the counters, and of
// `powerctl leases --tree`.
#pragma once

#include <string>

#include "tools/powerctl/power_format.h"

namespace trellis::powerctl {

// NAME ACQUIRED HELD MAX CHARGED REVOKED, most charged first; CHARGED is
// the awake time of the name's leases and of every lease derived from them.
// Empty if no lease was ever taken.
std::string FormatLeaseStats(const power::v1::SuspendStats& stats);

// NODE DRIVER PHASE COUNT LAST MEDIAN MAX TARGET OVER FLAGS, one row per
// driver and phase with callbacks; FLAGS says "over target" (the last
// callback missed its target) and "regressed"; MEDIAN (of the callbacks
// before the last) is "-" after one. Empty if there is none.
std::string FormatDriverLatencies(const power::v1::SuspendStats& stats);

// The held leases as a forest by derivation: a lease under the lease it
// derives from, a lease whose parent has ended at the root with its chain
// ("(from wake:alarm > rtc)").
std::string FormatLeaseTree(const google::protobuf::RepeatedPtrField<power::v1::WakeLeaseInfo>& leases,
                            Clock::time_point now);

}  // namespace trellis::powerctl
