// The echo sample driver: implements the generic Device protocol and, from
// its node's properties, grows a subtree of further echo nodes.
//
// Node properties it reads:
//   echo.depth    (int)  levels of children to add below this node (default 0)
//   echo.children (int)  children per level (default 1)
//   echo.fail_start (bool) Start fails (for tests)
//   echo.crash_on_start (bool) the host aborts in Start (crash-loop tests)
//
// Device protocol (minor numbers):
//   0  presence check: returns 0, no side effect
//   1  returns arg1 + arg2
//   2  starts work: after arg1 ms, upcall on minor 2 with (arg2, n) where n
//      counts this caller's completed jobs; returns 0 at once
//   3  returns the size of this caller's read-only buffer on minor 3
//   4  returns how many non-empty buffers it holds, of every client
//   5  returns the 8 bytes at offset arg1 of this caller's read-write buffer
//      on minor 5, as a little-endian integer (read in place when shared)
//   6  writes arg2 as 8 little-endian bytes at offset arg1 of that buffer
//   7  returns how many calls changed its state (every command but 0, 4,
//      7 and 9, every subscribe and allow): minor 0 never does
//   8  writes a byte into this caller's read-only buffer on minor 3 through
//      a cast, as a buggy driver would: a shared one is mapped read-only,
//      so the host faults (tests)
//   9  returns how many of its subscriptions are still active
//   98 blocks the driver's dispatcher for arg1 ms (hung-driver tests)
//   99 aborts the host process (crash tests)
// Subscribe: minor 2; minors 1000 and up are accepted but never upcall (the
// host's subscription-cap tests). Allow: any minor, read-only or read-write.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <tuple>
#include <vector>

#include "runtime/driver/device_protocol.h"
#include "runtime/driver/driver.h"

namespace trellis::drivers {

class EchoDriver final : public Driver, public DeviceProtocol {
 public:
  explicit EchoDriver(DriverContext context) : Driver(context) {}

  void Start(StartCompleter completer) override;
  void Stop(StopCompleter completer) override;

  Result<int64_t> Command(const Caller& caller, uint32_t minor, uint64_t arg1,
                          uint64_t arg2) override;
  Result<void> Subscribe(const Caller& caller, uint32_t minor, Upcall upcall) override;
  Result<AllowResult> Allow(const Caller& caller, uint32_t minor, bool read_only,
                            AllowedBuffer buffer) override;

 private:
  void AddChildren(uint64_t depth, uint64_t count, StartCompleter completer);

  // Touched only on the driver's dispatcher.
  std::map<std::pair<uint64_t, uint32_t>, Upcall> upcalls_;
  // The 8 bytes at `offset` of this caller's read-write buffer on minor 5.
  Result<std::span<std::byte>> Word(const Caller& caller, uint64_t offset);

  std::map<std::tuple<uint64_t, uint32_t, bool>, AllowedBuffer> allowed_;
  uint64_t state_changes_ = 0;
  std::map<uint64_t, uint64_t> jobs_done_;
  // Guards delayed tasks against running after Stop.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace trellis::drivers
