// LeaseTable: the wake leases the governor knows of — who holds each, the
// lease it derives from, its budget, the token its client minted — and what
// they have cost (awake time per name, charged up the derivation chain).
// Whether a lease aborts a suspend is the governor's business, not this
// table's.
//
// Hand-off (Power.HandOffWakeLease): a lease handed to a token stays held,
// even after its holder lets go, until a lease with that token is granted
// (then it ends) or the hand-off's deadline passes. At no moment is neither
// lease held.
//
// Budgets (AcquireWakeLeaseRequest.max_hold): at max_hold minus the notice
// (a quarter of it, at most kMaxNotice) the holder gets release_requested;
// at max_hold the lease is revoked.
//
// Threading: every method runs on the governor's dispatcher, and so do the
// callbacks given to the constructor and the leases' notify functions.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "runtime/dispatcher.h"
#include "runtime/error.h"
#include "trellis/power/v1/power.pb.h"

namespace trellis::power {

// Tells a lease's holder about a release request or the lease's end; `last`
// when the lease has ended (revoked, handed off): the holder's stream is
// then finished.
using LeaseNotify = std::function<void(const v1::WakeLeaseEvent& event, bool last)>;

struct LeaseInfo {
  std::string name;
  std::string holder;  // "client" or a node path.
  uint32_t pid = 0;
  uint32_t uid = 0;
  // Client-minted (AcquireWakeLeaseRequest.token); empty: none.
  std::string token;
  // The lease it derives from; 0: none.
  uint64_t parent = 0;
  // Budget; 0: none.
  std::chrono::milliseconds max_hold{0};
  // May be empty (the governor's own grants for woken drivers).
  LeaseNotify notify;
};

class LeaseTable {
 public:
  static constexpr std::chrono::milliseconds kMaxHandOff{5000};
  static constexpr std::chrono::milliseconds kMaxNotice{5000};
  static constexpr size_t kMaxNames = 256;

  struct Lease {
    LeaseInfo info;
    std::vector<std::string> chain;  // Names it derives from, the root first.
    std::chrono::system_clock::time_point since;
    std::chrono::steady_clock::time_point start;
    std::string handoff_token;  // Set while handed off.
    bool let_go = false;        // The holder released it during a hand-off.
  };

  // `report`: a line for the power event log (a revocation, an expired
  // hand-off). `ended`: a lease ended by a timer of this table (the
  // governor may now start a queued suspend).
  LeaseTable(UnownedDispatcher dispatcher, std::function<void(std::string)> report,
             std::function<void()> ended);
  ~LeaseTable();

  // Grants a lease; completes a hand-off waiting for its token.
  // Errors: kInvalidArgument (malformed token), kAlreadyExists (a held lease
  // has the token), kNotFound (the parent is not held).
  Result<uint64_t> Acquire(LeaseInfo info);
  // The holder let go (its stream ended, DropWakeLease). A handed-off lease
  // stays until its receiver comes. False if there is no such lease.
  bool Release(uint64_t id);
  // HandOffWakeLease by process `pid` (0: unknown); true if the receiving
  // lease was already held and the lease has ended.
  // Errors: kNotFound, kPermissionDenied (another process's lease),
  // kFailedPrecondition (already handed off), kInvalidArgument (token).
  Result<bool> HandOff(uint64_t id, const std::string& token, uint32_t pid,
                       std::chrono::milliseconds deadline);

  bool empty() const { return leases_.empty(); }
  size_t size() const { return leases_.size(); }
  const std::map<uint64_t, Lease>& held() const { return leases_; }
  // "'ota' (client, pid 12, held 40 ms); ..." for refusals.
  std::string Describe() const;
  v1::ListLeasesResponse List() const;
  // Lease names, revocations and expired hand-offs into `stats`.
  void FillStats(v1::SuspendStats& stats) const;

  // 16..64 bytes of [A-Za-z0-9_-].
  static Result<void> CheckToken(const std::string& token);

 private:
  struct NameStats {
    uint64_t acquired = 0;
    std::chrono::nanoseconds held{0}, max_held{0}, charged{0};
    uint64_t revoked = 0;
  };

  // The chain of a lease derived from `parent`: parent's chain, then parent.
  static std::vector<std::string> ChainBelow(const Lease& parent);
  // The names a lease's held time is charged to, each once: its chain and
  // its own name.
  static std::set<std::string> ChargedNames(const Lease& lease);
  // Ends lease `it`, charging its time; tells the holder if `why` is set.
  void End(std::map<uint64_t, Lease>::iterator it, const std::string& why);
  NameStats& StatsFor(const std::string& name);
  void ArmBudget(uint64_t id, std::chrono::milliseconds max_hold);

  UnownedDispatcher dispatcher_;
  std::function<void(std::string)> report_;
  std::function<void()> ended_;
  std::map<uint64_t, Lease> leases_;
  uint64_t next_id_ = 1;
  std::map<std::string, NameStats> names_;
  uint64_t revoked_ = 0;
  uint64_t expired_handoffs_ = 0;
  // Timers hold a weak reference: once the table is gone they do nothing.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace trellis::power
