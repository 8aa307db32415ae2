#include "power/governor.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>

#include "power/proto_time.h"
#include "power/suspend_plan.h"

namespace trellis::power {

namespace {

using google::protobuf::util::TimeUtil;
using Outcome = v1::SuspendResponse::Outcome;

const char* StateName(v1::SystemState state) {
  switch (state) {
    case v1::SYSTEM_STATE_RUNNING:
      return "running";
    case v1::SYSTEM_STATE_SUSPENDING:
      return "suspending";
    case v1::SYSTEM_STATE_SUSPENDED:
      return "suspended";
    case v1::SYSTEM_STATE_RESUMING:
      return "resuming";
    default:
      return "unknown";
  }
}

}  // namespace

struct Governor::Attempt {
  enum class Phase { kRunning, kSuspending, kSuspended, kFailed, kResuming, kResumed };

  uint64_t seq = 0;
  v1::SuspendRequest request;
  SuspendDone done;
  bool waiting = false;  // For leases to be released; nothing started yet.
  std::chrono::system_clock::time_point queued_at;
  std::optional<std::chrono::system_clock::time_point> queued_until;
  bool forced = false;  // A when_idle suspend went ahead despite leases.
  uint32_t pid = 0;     // Of the client that asked; 0 if unknown.
  std::chrono::steady_clock::time_point start;
  uint64_t start_generation = 0;

  std::vector<Target> plan;
  std::vector<std::vector<int>> children;
  std::vector<int> unsuspended_children;
  std::vector<Phase> phase;
  int in_flight = 0;  // Driver calls and the alarm arming.
  size_t suspended = 0;

  bool aborting = false;
  bool committed = false;  // Reached Suspended.
  bool resume_failed = false;
  std::chrono::steady_clock::time_point suspended_at;
  std::chrono::steady_clock::time_point resume_start;
  // When the event that woke the committed system happened.
  std::optional<std::chrono::steady_clock::time_point> woke_at;
  std::string wake_node;  // Gets a wake lease on resume.
  v1::SuspendResponse response;
};

Governor::Governor(UnownedDispatcher dispatcher, Platform* platform,
                   std::unique_ptr<SuspendHal> hal)
    : dispatcher_(std::move(dispatcher)),
      platform_(platform),
      hal_(std::move(hal)),
      blockers_(dispatcher_),
      since_(std::chrono::system_clock::now()),
      leases_(
          dispatcher_,
          [this](std::string detail) {
            SetState(state_, std::move(detail));
          },
          [this] { LeaseEnded(); }) {}

Governor::~Governor() = default;

void Governor::SetState(v1::SystemState state, std::string detail) {
  state_ = state;
  since_ = std::chrono::system_clock::now();
  v1::PowerEvent event;
  *event.mutable_time() = TimeUtil::NanosecondsToTimestamp(
      std::chrono::duration_cast<std::chrono::nanoseconds>(since_.time_since_epoch()).count());
  event.set_state(state);
  event.set_detail(std::move(detail));
  platform_->PowerEvent(event);
}

void Governor::Suspend(const v1::SuspendRequest& request, SuspendDone done, uint32_t pid) {
  if (shut_down_) {
    done(Fail(ErrorCode::kUnavailable, "the manager is shutting down"));
    return;
  }
  if ((request.has_wake_after() && request.wake_after().seconds() < 0) ||
      (request.has_wait() && request.wait().seconds() < 0) || request.wake_after().nanos() < 0 ||
      request.wait().nanos() < 0) {
    done(Fail(ErrorCode::kInvalidArgument, "suspend: wake_after and wait must not be negative"));
    return;
  }
  if (request.when_idle() && request.has_wait()) {
    done(Fail(ErrorCode::kInvalidArgument,
              "suspend: when_idle waits for leases by itself; wait does not apply"));
    return;
  }
  if (request.has_not_later_than() &&
      (!request.when_idle() || request.not_later_than().seconds() < 0 ||
       request.not_later_than().nanos() < 0)) {
    done(Fail(ErrorCode::kInvalidArgument,
              "suspend: not_later_than needs when_idle and must not be negative"));
    return;
  }
  if (request.test() != v1::SuspendRequest::TEST_MODE_NONE && request.has_wake_after()) {
    done(Fail(ErrorCode::kInvalidArgument,
              "suspend: a test suspend wakes by itself; wake_after does not apply"));
    return;
  }
  if (attempt_ != nullptr) {
    done(Fail(ErrorCode::kFailedPrecondition,
              std::string("suspend refused: another suspend is in progress (system is ") +
                  (attempt_->waiting ? "waiting for wake leases" : StateName(state_)) + ")"));
    return;
  }
  if (request.has_expected_generation() && request.expected_generation() != generation_) {
    done(Fail(ErrorCode::kFailedPrecondition,
              "suspend refused: wake generation is " + std::to_string(generation_) + ", not " +
                  std::to_string(request.expected_generation()) + " — a wake or a wake lease arrived since"));
    return;
  }
  auto wait = ToMillis(request.wait());
  if (!leases_.empty() && wait.count() <= 0 && !request.when_idle()) {
    done(Fail(ErrorCode::kFailedPrecondition, "suspend refused: " + std::to_string(leases_.size()) +
                                                  " wake lease(s) held: " + leases_.Describe()));
    return;
  }
  attempt_ = std::make_unique<Attempt>();
  attempt_->seq = next_attempt_++;
  attempt_->request = request;
  attempt_->done = std::move(done);
  attempt_->pid = pid;
  if (leases_.empty()) {
    StartAttempt();
    return;
  }
  attempt_->waiting = true;
  attempt_->queued_at = std::chrono::system_clock::now();
  uint64_t seq = attempt_->seq;
  if (request.when_idle()) {
    auto force_after = ToMillis(request.not_later_than());
    if (!request.has_not_later_than()) return;  // As long as it takes.
    attempt_->queued_until = attempt_->queued_at + force_after;
    auto posted = dispatcher_.PostAfter(force_after, [this, alive = std::weak_ptr(alive_), seq] {
      if (alive.expired()) return;
      if (attempt_ == nullptr || attempt_->seq != seq || !attempt_->waiting) return;
      Force();
    });
    if (!posted) FinishWait(Fail(ErrorCode::kUnavailable, "the manager is shutting down"));
    return;
  }
  attempt_->queued_until = attempt_->queued_at + wait;
  auto posted = dispatcher_.PostAfter(wait, [this, alive = std::weak_ptr(alive_), seq, wait] {
    if (alive.expired()) return;
    if (attempt_ == nullptr || attempt_->seq != seq || !attempt_->waiting) return;
    FinishWait(Fail(ErrorCode::kDeadlineExceeded,
                    "suspend gave up after waiting " + std::to_string(wait.count()) +
                        " ms: wake lease(s) still held: " + leases_.Describe()));
  });
  if (!posted) FinishWait(Fail(ErrorCode::kUnavailable, "the manager is shutting down"));
}

void Governor::Force() {
  Attempt& a = *attempt_;
  a.forced = true;
  for (const auto& [id, lease] : leases_.held()) {
    a.response.add_overridden_leases("wake lease " + std::to_string(id) + " '" + lease.info.name +
                                     "' held by " + lease.info.holder + " (pid " +
                                     std::to_string(lease.info.pid) + ")");
  }
  SetState(state_, "suspend --when idle reached its deadline; overriding " +
                       std::to_string(leases_.size()) + " wake lease(s): " + leases_.Describe());
  StartAttempt();
}

void Governor::FinishWait(Result<void> result) {
  auto attempt = std::move(attempt_);
  attempt->done(Fail(result.error()));
}

void Governor::StartAttempt() {
  Attempt& a = *attempt_;
  a.waiting = false;
  a.start = std::chrono::steady_clock::now();
  a.start_generation = generation_;
  SetState(v1::SYSTEM_STATE_SUSPENDING, "");
  // Suspend blockers first; a lease one of them takes aborts (AcquireLease).
  uint64_t seq = a.seq;
  blockers_.BeforeSuspend([this, seq](std::vector<std::string> missed) {
    if (attempt_ == nullptr || attempt_->seq != seq || attempt_->aborting) return;
    for (auto& name : missed) {
      SetState(v1::SYSTEM_STATE_SUSPENDING,
               "suspend blocker '" + name + "' missed its deadline; going on without it");
      attempt_->response.add_missed_blockers(std::move(name));
    }
    SuspendDrivers();
  });
}

void Governor::SuspendDrivers() {
  Attempt& a = *attempt_;
  a.plan = platform_->PowerTargets();
  size_t n = a.plan.size();
  a.children.assign(n, {});
  a.unsuspended_children.assign(n, 0);
  a.phase.assign(n, Attempt::Phase::kRunning);
  for (size_t i = 0; i < n; ++i) {
    int p = a.plan[i].parent;
    if (p >= 0) {
      a.children[p].push_back(static_cast<int>(i));
      ++a.unsuspended_children[p];
    }
  }
  const uint64_t seq = a.seq;
  for (size_t i = 0; i < n; ++i) {
    // A launch can complete inline and abort the attempt.
    if (attempt_ == nullptr || attempt_->seq != seq || attempt_->aborting) return;
    if (a.unsuspended_children[i] == 0) LaunchSuspend(static_cast<int>(i));
  }
  MaybeCommit();
}

uint64_t Governor::MicrosSinceStart() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                               attempt_->start)
      .count();
}

void Governor::Record(const Target& target, v1::CallbackTiming::Phase phase, uint64_t start_us,
                      const Result<uint64_t>& result) {
  if (result) {
    const bool suspend = phase == v1::CallbackTiming::PHASE_SUSPEND;
    latencies_.Record(target.node_path, target.driver,
                      suspend ? DriverLatencies::Phase::kSuspend : DriverLatencies::Phase::kResume,
                      std::chrono::microseconds(*result),
                      suspend ? target.suspend_target : target.resume_target);
  }
  if (!attempt_->request.trace()) return;
  auto* timing = attempt_->response.add_timings();
  timing->set_driver(target.driver);
  timing->set_node_path(target.node_path);
  timing->set_host(target.host_id);
  timing->set_phase(phase);
  timing->set_start_us(start_us);
  timing->set_duration_us(result ? *result : MicrosSinceStart() - start_us);
  timing->set_status(result ? "ok" : result.error().ToString());
}

void Governor::LaunchSuspend(int index) {
  Attempt& a = *attempt_;
  a.phase[index] = Attempt::Phase::kSuspending;
  ++a.in_flight;
  uint64_t seq = a.seq;
  uint64_t start_us = MicrosSinceStart();
  platform_->SuspendDriver(a.plan[index], [this, seq, index, start_us](Result<uint64_t> result) {
    if (attempt_ == nullptr || attempt_->seq != seq) return;
    OnSuspended(index, start_us, std::move(result));
  });
}

void Governor::OnSuspended(int index, uint64_t start_us, Result<uint64_t> result) {
  Attempt& a = *attempt_;
  --a.in_flight;
  const Target& target = a.plan[index];
  Record(target, v1::CallbackTiming::PHASE_SUSPEND, start_us, result);
  if (result) {
    a.phase[index] = Attempt::Phase::kSuspended;
    ++a.suspended;
    int p = target.parent;
    if (!a.aborting && p >= 0 && --a.unsuspended_children[p] == 0) LaunchSuspend(p);
  } else {
    a.phase[index] = Attempt::Phase::kFailed;
    Abort(v1::SuspendResponse::OUTCOME_FAILED_SUSPEND,
          "driver '" + target.driver + "' at " + target.node_path +
              " failed to suspend: " + result.error().ToString(),
          target.driver);
    return;
  }
  if (attempt_ == nullptr) return;
  if (attempt_->aborting) {
    if (attempt_->in_flight == 0) StartResume();
    return;
  }
  MaybeCommit();
}

void Governor::MaybeCommit() {
  Attempt& a = *attempt_;
  if (a.aborting || a.committed || a.in_flight > 0 || a.suspended < a.plan.size()) return;
  if (a.request.test() == v1::SuspendRequest::TEST_MODE_DRIVERS) {
    // pm_test "devices": every driver is down; unwind without committing.
    *a.response.mutable_suspend_took() = ToDuration(std::chrono::steady_clock::now() - a.start);
    a.aborting = true;
    a.response.set_outcome(v1::SuspendResponse::OUTCOME_TESTED);
    a.response.set_wake_reason("test: drivers");
    StartResume();
    return;
  }
  auto wake_after = ToMillis(a.request.wake_after());
  if (wake_after.count() <= 0) {
    Commit();
    return;
  }
  ++a.in_flight;
  uint64_t seq = a.seq;
  platform_->ArmWakeAlarm(wake_after, [this, seq](Result<void> armed) {
    if (attempt_ == nullptr || attempt_->seq != seq) return;
    --attempt_->in_flight;
    if (!armed) {
      Abort(v1::SuspendResponse::OUTCOME_FAILED_SUSPEND,
            "arming the wake alarm failed: " + armed.error().ToString(), "");
      return;
    }
    if (attempt_->aborting) {
      StartResume();
      return;
    }
    Commit();
  });
}

void Governor::Commit() {
  Attempt& a = *attempt_;
  // Leases and wakes abort as they arrive; this is the last line.
  if (!leases_.empty() && !a.forced) {
    Abort(v1::SuspendResponse::OUTCOME_ABORTED_BY_LEASE,
          "wake lease(s) held at commit: " + leases_.Describe(), "");
    return;
  }
  if (generation_ != a.start_generation) {
    Abort(v1::SuspendResponse::OUTCOME_ABORTED_BY_WAKE, "a wake arrived before the commit", "");
    return;
  }
  a.committed = true;
  a.suspended_at = std::chrono::steady_clock::now();
  *a.response.mutable_suspend_took() = ToDuration(a.suspended_at - a.start);
  SetState(v1::SYSTEM_STATE_SUSPENDED, hal_->name());
  uint64_t seq = a.seq;
  if (a.request.test() == v1::SuspendRequest::TEST_MODE_HAL) {
    // pm_test "platform": committed, but the HAL is not entered.
    (void)dispatcher_.Post([this, alive = std::weak_ptr(alive_), seq] {
      if (alive.expired()) return;
      if (attempt_ == nullptr || attempt_->seq != seq || state_ != v1::SYSTEM_STATE_SUSPENDED) {
        return;
      }
      Wake("test: hal", "", "");
    });
    return;
  }
  auto dispatcher = dispatcher_;
  hal_->Enter([this, alive = std::weak_ptr(alive_), dispatcher,
               seq](Result<std::string> woke) mutable {
    (void)dispatcher.Post([this, alive, seq, woke = std::move(woke)]() mutable {
      if (alive.expired()) return;
      if (attempt_ == nullptr || attempt_->seq != seq || state_ != v1::SYSTEM_STATE_SUSPENDED) {
        return;
      }
      if (woke) {
        ++generation_;
        Wake(*woke, "", "");
        return;
      }
      // Entering low power failed: the drivers come back up.
      attempt_->committed = false;
      attempt_->response.set_outcome(v1::SuspendResponse::OUTCOME_FAILED_SUSPEND);
      attempt_->response.set_error("suspend HAL " + hal_->name() + ": " + woke.error().ToString());
      attempt_->aborting = true;
      StartResume();
    });
  });
}

void Governor::Abort(Outcome outcome, std::string error, std::string failed_driver) {
  if (attempt_ == nullptr || attempt_->waiting || attempt_->committed) return;
  Attempt& a = *attempt_;
  if (!a.aborting) {
    a.aborting = true;
    a.response.set_outcome(outcome);
    a.response.set_error(std::move(error));
    a.response.set_failed_driver(std::move(failed_driver));
  }
  if (a.in_flight == 0) StartResume();
}

void Governor::Wake(std::string reason, std::string node_path, std::string driver,
                    std::optional<std::chrono::steady_clock::time_point> at) {
  Attempt& a = *attempt_;
  auto now = std::chrono::steady_clock::now();
  // A stamp from the future (another clock, a confused caller) counts as now.
  a.woke_at = at && *at <= now ? *at : now;
  hal_->Wake();
  a.response.set_wake_reason(reason);
  a.response.set_wake_driver(std::move(driver));
  a.response.set_wake_node_path(node_path);
  a.wake_node = std::move(node_path);
  *a.response.mutable_suspended_for() =
      ToDuration(std::chrono::steady_clock::now() - a.suspended_at);
  StartResume();
}

void Governor::StartResume() {
  Attempt& a = *attempt_;
  a.resume_start = std::chrono::steady_clock::now();
  if (!a.committed) *a.response.mutable_suspend_took() = ToDuration(a.resume_start - a.start);
  if (state_ != v1::SYSTEM_STATE_RESUMING) {
    std::string detail = a.committed ? a.response.wake_reason() : a.response.error();
    SetState(v1::SYSTEM_STATE_RESUMING, detail);
  }
  uint64_t seq = a.seq;
  for (size_t i = 0; i < a.plan.size(); ++i) {
    if (attempt_ == nullptr || attempt_->seq != seq) return;
    if (a.phase[i] != Attempt::Phase::kSuspended) continue;
    int p = a.plan[i].parent;
    bool parent_down = p >= 0 && (a.phase[p] == Attempt::Phase::kSuspended ||
                                  a.phase[p] == Attempt::Phase::kResuming);
    if (!parent_down) LaunchResume(static_cast<int>(i));
  }
  if (attempt_ != nullptr && attempt_->seq == seq) MaybeFinish();
}

void Governor::LaunchResume(int index) {
  Attempt& a = *attempt_;
  a.phase[index] = Attempt::Phase::kResuming;
  ++a.in_flight;
  const Target& target = a.plan[index];
  std::optional<LeaseGrant> grant;
  if (!a.wake_node.empty() && target.node_path == a.wake_node) {
    // Taken for the driver before it runs again, so the system cannot
    // suspend before the driver has handled its wake.
    std::string name = "wake:" + a.response.wake_reason();
    if (auto id = leases_.Acquire({.name = name, .holder = target.node_path})) {
      grant = LeaseGrant{*id, name};
    }
  }
  uint64_t seq = a.seq;
  uint64_t start_us = MicrosSinceStart();
  platform_->ResumeDriver(target, std::move(grant),
                          [this, seq, index, start_us](Result<uint64_t> result) {
                            if (attempt_ == nullptr || attempt_->seq != seq) return;
                            OnResumed(index, start_us, std::move(result));
                          });
}

void Governor::OnResumed(int index, uint64_t start_us, Result<uint64_t> result) {
  Attempt& a = *attempt_;
  --a.in_flight;
  a.phase[index] = Attempt::Phase::kResumed;
  const Target& target = a.plan[index];
  Record(target, v1::CallbackTiming::PHASE_RESUME, start_us, result);
  if (!result && !a.resume_failed) {
    a.resume_failed = true;
    if (!a.aborting) {
      a.response.set_failed_driver(target.driver);
      a.response.set_error("driver '" + target.driver + "' at " + target.node_path +
                           " failed to resume: " + result.error().ToString());
    }
  }
  uint64_t seq = a.seq;
  for (int child : a.children[index]) {
    if (attempt_ == nullptr || attempt_->seq != seq) return;
    if (a.phase[child] == Attempt::Phase::kSuspended) LaunchResume(child);
  }
  if (attempt_ != nullptr && attempt_->seq == seq) MaybeFinish();
}

void Governor::MaybeFinish() {
  Attempt& a = *attempt_;
  if (a.in_flight > 0) return;
  // Descendants of a driver that never suspended were not blocked by it;
  // anything still suspended here would be a planning bug — resume it.
  for (size_t i = 0; i < a.plan.size(); ++i) {
    if (a.phase[i] == Attempt::Phase::kSuspended) {
      LaunchResume(static_cast<int>(i));
      return;
    }
  }
  auto& r = a.response;
  if (!a.aborting) {
    r.set_outcome(a.resume_failed ? v1::SuspendResponse::OUTCOME_FAILED_RESUME
                                  : v1::SuspendResponse::OUTCOME_RESUMED);
  }
  // A test suspend that went as far as asked ends TESTED, unless a driver
  // failed to come back.
  if (a.request.test() != v1::SuspendRequest::TEST_MODE_NONE &&
      (r.outcome() == v1::SuspendResponse::OUTCOME_RESUMED ||
       r.outcome() == v1::SuspendResponse::OUTCOME_TESTED)) {
    r.set_outcome(a.resume_failed ? v1::SuspendResponse::OUTCOME_FAILED_RESUME
                                  : v1::SuspendResponse::OUTCOME_TESTED);
  }
  switch (r.outcome()) {
    case v1::SuspendResponse::OUTCOME_RESUMED:
      stats_.set_success(stats_.success() + 1);
      history_.emplace_back(ToNanos(r.suspend_took()),
                            std::chrono::steady_clock::now() - a.resume_start);
      if (history_.size() > kHistory) history_.pop_front();
      break;
    case v1::SuspendResponse::OUTCOME_ABORTED_BY_LEASE:
      stats_.set_aborted_by_lease(stats_.aborted_by_lease() + 1);
      break;
    case v1::SuspendResponse::OUTCOME_ABORTED_BY_WAKE:
      stats_.set_aborted_by_wake(stats_.aborted_by_wake() + 1);
      break;
    case v1::SuspendResponse::OUTCOME_FAILED_SUSPEND:
    case v1::SuspendResponse::OUTCOME_FAILED_RESUME:
      stats_.set_fail(stats_.fail() + 1);
      if (r.outcome() == v1::SuspendResponse::OUTCOME_FAILED_SUSPEND) {
        stats_.set_failed_suspend(stats_.failed_suspend() + 1);
      } else {
        stats_.set_failed_resume(stats_.failed_resume() + 1);
      }
      stats_.set_last_failed_driver(r.failed_driver());
      stats_.set_last_failed_error(r.error());
      break;
    default:
      break;
  }
  if (r.has_suspended_for()) {
    *stats_.mutable_total_suspended() = stats_.total_suspended() + r.suspended_for();
  }
  r.set_wake_generation(generation_);
  auto finished = std::chrono::steady_clock::now();
  *r.mutable_resume_took() = ToDuration(finished - a.resume_start);
  if (a.woke_at) *r.mutable_wake_latency() = ToDuration(finished - *a.woke_at);
  auto attempt = std::move(attempt_);
  std::string detail = r.outcome() == v1::SuspendResponse::OUTCOME_RESUMED
                           ? "resumed: " + r.wake_reason()
                           : v1::SuspendResponse::Outcome_Name(r.outcome()) + ": " + r.error();
  SetState(v1::SYSTEM_STATE_RUNNING, detail);
  blockers_.AfterResume();
  attempt->done(std::move(r));
}

void Governor::Resume(std::string reason) {
  if (reason.empty()) reason = "resume request";
  if (attempt_ == nullptr || attempt_->waiting) return;
  ++generation_;
  if (state_ == v1::SYSTEM_STATE_SUSPENDED) {
    Wake(std::move(reason), "", "");
  } else if (state_ == v1::SYSTEM_STATE_SUSPENDING) {
    attempt_->response.set_wake_reason(reason);
    Abort(v1::SuspendResponse::OUTCOME_ABORTED_BY_WAKE, "aborted by " + reason, "");
  }
}

uint64_t Governor::ReportWake(std::string reason, std::string node_path, std::string driver,
                              std::optional<std::chrono::steady_clock::time_point> at) {
  ++generation_;
  if (attempt_ == nullptr || attempt_->waiting) return generation_;
  if (state_ == v1::SYSTEM_STATE_SUSPENDED) {
    Wake(std::move(reason), std::move(node_path), std::move(driver), at);
  } else if (state_ == v1::SYSTEM_STATE_SUSPENDING && !attempt_->aborting) {
    Attempt& a = *attempt_;
    a.response.set_wake_reason(reason);
    a.response.set_wake_driver(driver);
    a.response.set_wake_node_path(node_path);
    a.wake_node = node_path;
    Abort(v1::SuspendResponse::OUTCOME_ABORTED_BY_WAKE,
          "wake from " + (node_path.empty() ? std::string("the platform") : node_path) + ": " +
              reason,
          "");
  }
  return generation_;
}

Result<uint64_t> Governor::AcquireLease(LeaseInfo info) {
  std::string what = "wake lease '" + info.name + "' acquired by " + info.holder +
                     (info.pid != 0 ? " (pid " + std::to_string(info.pid) + ")" : "");
  TRELLIS_ASSIGN_OR_RETURN(uint64_t id, leases_.Acquire(std::move(info)));
  // Like a wake: Suspend(expected_generation) read before it is refused.
  ++generation_;
  if (attempt_ == nullptr || attempt_->waiting) return id;
  if (state_ == v1::SYSTEM_STATE_SUSPENDED) {
    Wake(what, "", "");
  } else if (state_ == v1::SYSTEM_STATE_SUSPENDING) {
    Abort(v1::SuspendResponse::OUTCOME_ABORTED_BY_LEASE, "aborted: " + what, "");
  }
  return id;
}

bool Governor::ReleaseLease(uint64_t id) {
  if (!leases_.Release(id)) return false;
  LeaseEnded();
  return true;
}

void Governor::LeaseEnded() {
  if (leases_.empty() && attempt_ != nullptr && attempt_->waiting) StartAttempt();
}

Result<bool> Governor::HandOffLease(uint64_t id, const std::string& token, uint32_t pid,
                                    std::chrono::milliseconds deadline) {
  TRELLIS_ASSIGN_OR_RETURN(bool completed, leases_.HandOff(id, token, pid, deadline));
  if (completed) LeaseEnded();
  return completed;
}

Result<bool> Governor::HandOffLeaseOf(uint64_t id, const std::string& holder,
                                      const std::string& token,
                                      std::chrono::milliseconds deadline) {
  auto it = leases_.held().find(id);
  if (it == leases_.held().end() || it->second.info.holder != holder) {
    return Fail(ErrorCode::kNotFound,
                "no wake lease " + std::to_string(id) + " is held for " + holder);
  }
  return HandOffLease(id, token, /*pid=*/0, deadline);
}

bool Governor::ReleaseLeaseOf(uint64_t id, const std::string& holder) {
  auto it = leases_.held().find(id);
  if (it == leases_.held().end() || it->second.info.holder != holder) return false;
  return ReleaseLease(id);
}

size_t Governor::ClientLeasesOf(uint32_t pid) const {
  return static_cast<size_t>(std::ranges::count_if(leases_.held(), [pid](const auto& entry) {
    return entry.second.info.holder == "client" && entry.second.info.pid == pid;
  }));
}

void Governor::ReleaseLeasesOf(const std::string& holder) {
  std::vector<uint64_t> ids;
  for (const auto& [id, lease] : leases_.held()) {
    if (lease.info.holder == holder) ids.push_back(id);
  }
  for (uint64_t id : ids) ReleaseLease(id);
}

Result<void> Governor::CancelQueued(std::string by) {
  if (attempt_ == nullptr || !attempt_->waiting) {
    return Fail(ErrorCode::kFailedPrecondition,
                attempt_ == nullptr ? "no suspend is queued"
                                    : "the suspend is already under way; Resume aborts it");
  }
  FinishWait(Fail(ErrorCode::kCancelled, "the queued suspend was cancelled by " + by));
  return Ok();
}

v1::StatusResponse Governor::Status() const {
  v1::StatusResponse status;
  status.set_state(state_);
  status.set_wake_generation(generation_);
  *status.mutable_leases() = Leases().leases();
  *status.mutable_since() = ToTimestamp(since_);
  if (attempt_ != nullptr && attempt_->waiting) {
    auto* queued = status.mutable_queued_suspend();
    *queued->mutable_since() = ToTimestamp(attempt_->queued_at);
    if (attempt_->queued_until) *queued->mutable_until() = ToTimestamp(*attempt_->queued_until);
    queued->set_forces(attempt_->request.when_idle());
    queued->set_pid(attempt_->pid);
  }
  return status;
}

v1::ListLeasesResponse Governor::Leases() const { return leases_.List(); }

v1::SuspendStats Governor::Stats() const {
  v1::SuspendStats stats = stats_;
  leases_.FillStats(stats);
  latencies_.Fill(stats);
  return stats;
}

v1::SuspendPlan Governor::Plan() {
  v1::SuspendPlan plan;
  plan.set_state(state_);
  plan.set_wake_generation(generation_);
  for (auto& step : PlanSteps(platform_->PowerTargets())) {
    plan.set_waves(std::max(plan.waves(), step.wave()));
    *plan.add_steps() = std::move(step);
  }
  if (attempt_ != nullptr || state_ != v1::SYSTEM_STATE_RUNNING) {
    auto* obstacle = plan.add_obstacles();
    obstacle->set_kind(v1::SuspendPlan::Obstacle::KIND_STATE);
    obstacle->set_detail(std::string("the system is ") + StateName(state_) +
                         (attempt_ != nullptr && attempt_->waiting
                              ? ": a suspend request is waiting for leases"
                              : ": another suspend is under way"));
  }
  auto now = std::chrono::system_clock::now();
  for (const auto& [id, lease] : leases_.held()) {
    auto* obstacle = plan.add_obstacles();
    obstacle->set_kind(v1::SuspendPlan::Obstacle::KIND_LEASE);
    obstacle->set_lease_id(id);
    auto held = std::chrono::duration_cast<std::chrono::seconds>(now - lease.since);
    obstacle->set_detail("wake lease " + std::to_string(id) + " '" + lease.info.name +
                         "' held by " + lease.info.holder + " (pid " +
                         std::to_string(lease.info.pid) + ") for " + std::to_string(held.count()) +
                         " s");
  }
  for (auto& line : blockers_.Describe()) {
    auto* obstacle = plan.add_obstacles();
    obstacle->set_kind(v1::SuspendPlan::Obstacle::KIND_BLOCKER);
    obstacle->set_detail(std::move(line));
  }
  if (!history_.empty()) {
    std::chrono::nanoseconds suspend{0}, resume{0};
    for (const auto& [s, r] : history_) {
      suspend += s;
      resume += r;
    }
    const auto runs = static_cast<int64_t>(history_.size());
    *plan.mutable_expected_suspend() = ToDuration(suspend / runs);
    *plan.mutable_expected_resume() = ToDuration(resume / runs);
    plan.set_history(static_cast<uint32_t>(runs));
  }
  return plan;
}

void Governor::Shutdown() {
  shut_down_ = true;
  if (attempt_ == nullptr) return;
  auto attempt = std::move(attempt_);
  attempt->done(Fail(ErrorCode::kUnavailable, "the manager is shutting down"));
}

}  // namespace trellis::power
