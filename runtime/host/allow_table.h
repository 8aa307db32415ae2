// AllowTable: which buffer each client has lent each driver, per (client,
// node, minor, read_only) slot — the host's half of Tock's allow swap. The
// driver holds the buffers (DeviceProtocol::Allow); the table holds their
// ids, so the host can check that the buffer a driver hands back is the one
// it lent for that slot, and can take every slot of a client back when the
// client goes (its token is revoked, its process exits).
//
// Threading: Swap runs the driver's part on its dispatcher, where every
// swap of that driver's slots is serialized; the map itself is guarded by a
// mutex because drivers of one host run on different dispatchers.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>

#include "runtime/driver/device_protocol.h"
#include "runtime/host/driver_instance.h"
#include "runtime/mutex.h"

namespace trellis::host {

class AllowTable {
 public:
  using Done = std::move_only_function<void(Result<DeviceProtocol::AllowResult>)>;

  // A fresh allow id for a buffer about to be lent (never 0).
  uint64_t NextId() { return next_id_.fetch_add(1, std::memory_order_relaxed); }

  // Lends `buffer` to `node_path`'s DeviceProtocol in `instance` for the
  // slot, on the driver's dispatcher; `done` gets the driver's answer with
  // the previous buffer checked, or the error (on the dispatcher, or at
  // once with UNAVAILABLE if the driver is gone).
  void Swap(std::shared_ptr<DriverInstance> instance, const std::string& node_path,
            const Caller& caller, uint32_t minor, bool read_only, AllowedBuffer buffer, Done done)
      TRELLIS_EXCLUDES(mu_);

  // Un-allows every slot of `client_id` (only those on `node_path`, if
  // given); the buffers the drivers hand back are dropped.
  void Release(uint64_t client_id, const std::optional<std::string>& node_path = std::nullopt)
      TRELLIS_EXCLUDES(mu_);

  // Slots holding a buffer (tests).
  size_t size() const TRELLIS_EXCLUDES(mu_);

 private:
  using Key = std::tuple<uint64_t, std::string, uint32_t, bool>;  // client, node, minor, ro
  struct Slot {
    uint64_t id = 0;
    std::weak_ptr<DriverInstance> instance;
    Caller caller;
  };

  mutable Mutex mu_;
  std::map<Key, Slot> slots_ TRELLIS_GUARDED_BY(mu_);
  std::atomic<uint64_t> next_id_{1};
};

}  // namespace trellis::host
