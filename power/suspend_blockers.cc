#include "power/suspend_blockers.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>

namespace trellis::power {

namespace {

std::chrono::milliseconds Capped(std::chrono::milliseconds deadline) {
  if (deadline <= std::chrono::milliseconds(0) || deadline > SuspendBlockers::kMaxDelay) {
    return SuspendBlockers::kMaxDelay;
  }
  return deadline;
}

}  // namespace

SuspendBlockers::~SuspendBlockers() = default;

uint64_t SuspendBlockers::Add(Info info, Sink sink) {
  uint64_t id = next_id_++;
  info.deadline = Capped(info.deadline);
  blockers_[id] = Blocker{std::move(info), std::move(sink)};
  Send(id, v1::SuspendBlockerEvent::KIND_REGISTERED);
  return id;
}

void SuspendBlockers::Remove(uint64_t id) {
  blockers_.erase(id);
  notified_.erase(id);
  if (pending_.contains(id)) Settle(id, false);
}

Result<void> SuspendBlockers::Ack(uint64_t id, uint64_t seq, uint32_t pid) {
  auto it = blockers_.find(id);
  if (it == blockers_.end()) {
    return Fail(ErrorCode::kNotFound, "no suspend blocker " + std::to_string(id));
  }
  if (pid != 0 && it->second.info.pid != 0 && pid != it->second.info.pid) {
    return Fail(ErrorCode::kPermissionDenied,
                "suspend blocker " + std::to_string(id) + " belongs to another process");
  }
  if (seq != round_ || !pending_.contains(id)) {
    return Fail(ErrorCode::kFailedPrecondition, "suspend blocker " + std::to_string(id) +
                                                    " has no BeforeSuspend " + std::to_string(seq) +
                                                    " to acknowledge (current round " +
                                                    std::to_string(round_) + ")");
  }
  Settle(id, false);
  return Ok();
}

void SuspendBlockers::BeforeSuspend(RoundDone done) {
  AfterResume();  // Closes a round left open, if any.
  ++round_;
  missed_.clear();
  done_ = std::move(done);
  for (const auto& [id, blocker] : blockers_) pending_.insert(id);
  notified_ = pending_;
  // A sink may fail (its stream ended): Remove runs later, on the
  // dispatcher; the deadline settles it first if not.
  for (uint64_t id : std::vector<uint64_t>(pending_.begin(), pending_.end())) {
    Send(id, v1::SuspendBlockerEvent::KIND_BEFORE_SUSPEND);
    const uint64_t round = round_;
    (void)dispatcher_.PostAfter(blockers_.at(id).info.deadline,
                                [this, alive = std::weak_ptr(alive_), id, round] {
                                  if (alive.expired() || round != round_) return;
                                  if (pending_.contains(id)) Settle(id, true);
                                });
  }
  if (pending_.empty() && done_) std::exchange(done_, nullptr)({});
}

void SuspendBlockers::AfterResume() {
  pending_.clear();
  done_ = nullptr;
  for (uint64_t id : std::exchange(notified_, {})) {
    if (blockers_.contains(id)) Send(id, v1::SuspendBlockerEvent::KIND_AFTER_RESUME);
  }
}

void SuspendBlockers::Settle(uint64_t id, bool missed) {
  pending_.erase(id);
  if (missed) {
    auto it = blockers_.find(id);
    missed_.push_back(it == blockers_.end() ? std::to_string(id) : it->second.info.name);
  }
  if (pending_.empty() && done_) std::exchange(done_, nullptr)(std::move(missed_));
}

void SuspendBlockers::Send(uint64_t id, v1::SuspendBlockerEvent::Kind kind) {
  const Blocker& blocker = blockers_.at(id);
  v1::SuspendBlockerEvent event;
  event.set_kind(kind);
  event.set_blocker_id(id);
  event.set_seq(round_);
  *event.mutable_deadline() =
      google::protobuf::util::TimeUtil::MillisecondsToDuration(blocker.info.deadline.count());
  (void)blocker.sink(event);
}

std::vector<std::string> SuspendBlockers::Describe() const {
  std::vector<std::string> lines;
  for (const auto& [id, blocker] : blockers_) {
    lines.push_back("suspend blocker " + std::to_string(id) + " '" + blocker.info.name + "' (pid " +
                    std::to_string(blocker.info.pid) + ") delays it up to " +
                    std::to_string(blocker.info.deadline.count()) + " ms");
  }
  return lines;
}

}  // namespace trellis::power
