// Wake leases as a driver host holds them for its drivers.
//
// AcquireNodeLease opens NodeChannel.AcquireWakeLease for one driver: the
// manager holds the lease for exactly as long as the stream is open, so the
// WakeLease it yields closes the stream (TryCancel) when dropped, and a host
// that dies releases every lease its drivers held.
//
// AdoptManagerLease wraps a lease the manager took on a driver's behalf (a
// wake-triggered resume, trellis.host.v1.ResumeDriverRequest.lease): dropping
// it sends NodeChannel.DropWakeLease.
#pragma once

#include <functional>
#include <string>

#include "runtime/driver/wake_lease.h"
#include "runtime/error.h"
#include "trellis/node/v1/node.grpc.pb.h"

namespace trellis::host {

// `granted` runs once, on a gRPC thread: with the lease, or with the
// manager's refusal (or kUnavailable if the manager went away first).
// `stub` must outlive the lease.
void AcquireNodeLease(node::v1::NodeChannel::Stub* stub, std::string node_token, std::string name,
                      std::move_only_function<void(Result<WakeLease>)> granted);

WakeLease AdoptManagerLease(node::v1::NodeChannel::Stub* stub, std::string node_token,
                            uint64_t lease_id, std::string name);

}  // namespace trellis::host
