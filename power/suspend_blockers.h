// SuspendBlockers: clients that must act before the system suspends and
// after it resumes (Fuchsia's SuspendBlocker, systemd-logind's delay
// inhibitors). Each gets BeforeSuspend and must acknowledge it within its
// deadline (capped at kMaxDelay, like logind's InhibitDelayMaxSec); one
// that does not is skipped and named, never allowed to hang the suspend.
// A blocker may take a wake lease while handling BeforeSuspend: that aborts
// the suspend as any lease does. Every blocker that got BeforeSuspend gets
// AfterResume once the attempt is over, whether it suspended or not.
//
// Threading: every method runs on the governor's dispatcher.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "runtime/dispatcher.h"
#include "runtime/error.h"
#include "trellis/power/v1/power.pb.h"

namespace trellis::power {

class SuspendBlockers {
 public:
  // The longest a blocker may hold a suspend up.
  static constexpr std::chrono::milliseconds kMaxDelay{5000};

  // Delivers one event; false once the blocker's stream has ended.
  using Sink = std::function<bool(const v1::SuspendBlockerEvent&)>;
  struct Info {
    std::string name;
    uint32_t pid = 0;
    std::chrono::milliseconds deadline{0};  // 0 or more than kMaxDelay: kMaxDelay.
  };
  // Names of the blockers that missed their deadline.
  using RoundDone = std::move_only_function<void(std::vector<std::string> missed)>;

  explicit SuspendBlockers(UnownedDispatcher dispatcher) : dispatcher_(std::move(dispatcher)) {}
  ~SuspendBlockers();

  // Registers a blocker; sends it KIND_REGISTERED with its id and deadline.
  uint64_t Add(Info info, Sink sink);
  // Its stream ended: a pending acknowledgement counts as given.
  void Remove(uint64_t id);
  // Acknowledges BeforeSuspend round `seq` for blocker `id`, which `pid`
  // (0: unknown) must have registered.
  // Errors: kNotFound (no such blocker), kPermissionDenied (another
  // process's), kFailedPrecondition (not the round waiting for it).
  Result<void> Ack(uint64_t id, uint64_t seq, uint32_t pid);

  // Sends BeforeSuspend to every blocker and calls `done` once each has
  // acknowledged or missed its deadline — at once if there are none.
  void BeforeSuspend(RoundDone done);
  // Ends the round: a pending one is cancelled (its `done` never runs), and
  // every blocker that got BeforeSuspend gets AfterResume.
  void AfterResume();

  // For the plan: one line per blocker.
  std::vector<std::string> Describe() const;
  size_t size() const { return blockers_.size(); }

 private:
  struct Blocker {
    Info info;
    Sink sink;
  };
  void Send(uint64_t id, v1::SuspendBlockerEvent::Kind kind);
  void Settle(uint64_t id, bool missed);

  UnownedDispatcher dispatcher_;
  std::map<uint64_t, Blocker> blockers_;
  uint64_t next_id_ = 1;
  uint64_t round_ = 0;           // The current or last round's seq.
  std::set<uint64_t> pending_;   // Blockers the open round waits for.
  std::set<uint64_t> notified_;  // Got BeforeSuspend this round.
  std::vector<std::string> missed_;
  RoundDone done_;  // Set while a round is open.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace trellis::power
