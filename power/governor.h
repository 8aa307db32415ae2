// Governor: the system power state machine (after Fuchsia's System Activity
// Governor and Linux's dpm_suspend/dpm_resume), owned by the manager.
//
//   Running → Suspending → Suspended → Resuming → Running
//
// Suspend: refused while wake leases are held, or queued until they drop
// (wait: with a deadline to give up; when_idle: without one, or with one to
// go ahead regardless), cancellable while queued. Suspend blockers are told
// and acknowledge (or miss their deadline) before any driver suspends.
// Drivers suspend children before parents; independent subtrees and hosts
// in parallel. A driver error or missed deadline, a lease granted or a wake
// reported at any point before the commit aborts: every driver already
// suspended is resumed exactly once, parents before children, and the
// system is Running again. The commit (state Suspended, then the HAL)
// happens in one dispatcher task, so a lease or wake is either seen before
// it (abort) or after it (wake): never lost. Leases and wakes both move the
// wake generation (Suspend's expected_generation).
//
// Leases themselves — tokens, hand-offs, budgets, chains — are kept by
// LeaseTable; callback times per driver by DriverLatencies.
//
// Resume: parents before children; the driver whose wake vector fired gets a
// wake lease taken on its behalf.
//
// Threading: every method runs on the dispatcher given at construction (the
// manager's); Platform calls complete onto it.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "power/driver_latency.h"
#include "power/lease_table.h"
#include "power/suspend_blockers.h"
#include "power/suspend_hal.h"
#include "runtime/dispatcher.h"
#include "runtime/error.h"
#include "trellis/power/v1/power.pb.h"

namespace trellis::power {

// One power-managed driver, as the governor plans a suspend.
struct Target {
  std::string node_path;
  std::string driver;
  std::string host_id;
  // Index (in the plan) of the nearest power-managed ancestor; -1 if none.
  int parent = -1;
  std::chrono::milliseconds suspend_timeout{0};
  std::chrono::milliseconds resume_timeout{0};
  // The manifest's latency targets (0: none): missing them fails nothing;
  // Stats counts it.
  std::chrono::milliseconds suspend_target{0};
  std::chrono::milliseconds resume_target{0};
};

// A lease the governor took for a driver whose wake vector fired.
struct LeaseGrant {
  uint64_t id = 0;
  std::string name;
};

// What the governor drives; the manager implements it.
class Platform {
 public:
  // Completion of a driver callback: the time the host measured, or why it
  // failed (a missed deadline is kDeadlineExceeded; the platform has then
  // killed the host and handles it as a crash). Every completion runs in a
  // later task on the governor's dispatcher, never inline in the call.
  using CallDone = std::move_only_function<void(Result<uint64_t> duration_us)>;

  virtual ~Platform() = default;
  // Every bound, running, power-managed driver; parents before children.
  virtual std::vector<Target> PowerTargets() = 0;
  virtual void SuspendDriver(const Target& target, CallDone done) = 0;
  virtual void ResumeDriver(const Target& target, std::optional<LeaseGrant> lease,
                            CallDone done) = 0;
  // Arms the wake alarm `after` from now (Power.Suspend wake_after).
  virtual void ArmWakeAlarm(std::chrono::milliseconds after,
                            std::move_only_function<void(Result<void>)> done) = 0;
  // A state transition, for watchers and logs.
  virtual void PowerEvent(const v1::PowerEvent& event) = 0;
};

class Governor {
 public:
  using SuspendDone = std::move_only_function<void(Result<v1::SuspendResponse>)>;

  Governor(UnownedDispatcher dispatcher, Platform* platform, std::unique_ptr<SuspendHal> hal);
  ~Governor();

  // Power.Suspend from process `pid` (0: unknown). `done` runs once the
  // system is Running again (or the request was refused or cancelled).
  // Errors: kFailedPrecondition (not Running, generation mismatch, leases
  // held and no wait), kDeadlineExceeded (leases still held after wait),
  // kInvalidArgument (negative durations, when_idle with wait,
  // not_later_than without when_idle), kCancelled (CancelQueued).
  void Suspend(const v1::SuspendRequest& request, SuspendDone done, uint32_t pid = 0);
  // Power.Resume: wakes a Suspended system, aborts a Suspending one.
  void Resume(std::string reason);
  // A wake vector fired (node_path empty when not driver-caused) at `at`
  // (default: now). Bumps the wake generation; returns it.
  uint64_t ReportWake(std::string reason, std::string node_path, std::string driver,
                      std::optional<std::chrono::steady_clock::time_point> at = std::nullopt);

  // Wake leases (lease_table.h). Acquiring one bumps the wake generation,
  // aborts a suspend in progress and wakes a suspended system.
  // Errors: those of LeaseTable::Acquire.
  Result<uint64_t> AcquireLease(LeaseInfo info);
  // The holder let go; false if there is no such lease.
  bool ReleaseLease(uint64_t id);
  // Power.HandOffWakeLease (LeaseTable::HandOff).
  Result<bool> HandOffLease(uint64_t id, const std::string& token, uint32_t pid,
                            std::chrono::milliseconds deadline);
  // NodeChannel.HandOffWakeLease: as HandOffLease, for a lease `holder` (a
  // node path) holds. Errors: kNotFound if it holds no such lease, then as
  // HandOffLease.
  Result<bool> HandOffLeaseOf(uint64_t id, const std::string& holder, const std::string& token,
                              std::chrono::milliseconds deadline);
  // Releases lease `id` only if `holder` holds it.
  bool ReleaseLeaseOf(uint64_t id, const std::string& holder);
  // Releases every lease whose holder is `holder` (a removed node).
  void ReleaseLeasesOf(const std::string& holder);
  // Leases held by clients of process `pid` (per-client caps).
  size_t ClientLeasesOf(uint32_t pid) const;

  v1::SystemState state() const { return state_; }
  uint64_t wake_generation() const { return generation_; }
  v1::StatusResponse Status() const;
  v1::ListLeasesResponse Leases() const;
  // Counters, lease names and per-driver callback times.
  v1::SuspendStats Stats() const;
  // Power.PlanSuspend: what a suspend started now would do (PlanSteps),
  // what would refuse it, and its expected times from past runs.
  v1::SuspendPlan Plan();

  // Suspend blockers (suspend_blockers.h): each suspend waits for their
  // acknowledgements of BeforeSuspend, up to their deadlines.
  SuspendBlockers& blockers() { return blockers_; }
  // Power.CancelSuspend: ends the queued (waiting) suspend request with
  // kCancelled. Errors: kFailedPrecondition (none is queued).
  Result<void> CancelQueued(std::string by);
  // Fails a waiting or running suspend request (manager shutdown).
  void Shutdown();

 private:
  struct Attempt;

  void SetState(v1::SystemState state, std::string detail);
  void StartAttempt();
  void Force();
  void LeaseEnded();
  void SuspendDrivers();
  void FinishWait(Result<void> result);
  void LaunchSuspend(int index);
  void OnSuspended(int index, uint64_t started_us, Result<uint64_t> result);
  void MaybeCommit();
  void Commit();
  void Abort(v1::SuspendResponse::Outcome outcome, std::string error, std::string failed_driver);
  void Wake(std::string reason, std::string node_path, std::string driver,
            std::optional<std::chrono::steady_clock::time_point> at = std::nullopt);
  void StartResume();
  void LaunchResume(int index);
  void OnResumed(int index, uint64_t started_us, Result<uint64_t> result);
  void MaybeFinish();
  void Record(const Target& target, v1::CallbackTiming::Phase phase, uint64_t start_us,
              const Result<uint64_t>& result);
  uint64_t MicrosSinceStart() const;

  const UnownedDispatcher dispatcher_;
  Platform* const platform_;
  const std::unique_ptr<SuspendHal> hal_;
  SuspendBlockers blockers_;

  v1::SystemState state_ = v1::SYSTEM_STATE_RUNNING;
  std::chrono::system_clock::time_point since_;
  uint64_t generation_ = 0;
  LeaseTable leases_;
  DriverLatencies latencies_;
  uint64_t next_attempt_ = 1;
  v1::SuspendStats stats_;
  // Suspend and resume times of the last kHistory attempts that resumed.
  static constexpr size_t kHistory = 16;
  std::deque<std::pair<std::chrono::nanoseconds, std::chrono::nanoseconds>> history_;
  std::unique_ptr<Attempt> attempt_;
  bool shut_down_ = false;
  // Tasks posted to the dispatcher and HAL callbacks hold a weak reference:
  // once the governor is gone they do nothing.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace trellis::power
