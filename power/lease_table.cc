#include "power/lease_table.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <set>

#include "power/proto_time.h"

namespace trellis::power {

namespace {

using google::protobuf::util::TimeUtil;
constexpr const char* kOtherNames = "(other)";

std::string Ms(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }

std::string Who(uint64_t id, const LeaseInfo& info) {
  return "wake lease " + std::to_string(id) + " '" + info.name + "' (" + info.holder +
         (info.pid != 0 ? ", pid " + std::to_string(info.pid) : "") + ")";
}

v1::WakeLeaseEvent Revoked(uint64_t id, const std::string& reason) {
  v1::WakeLeaseEvent event;
  event.mutable_revoked()->set_lease_id(id);
  event.mutable_revoked()->set_reason(reason);
  return event;
}

}  // namespace

std::vector<std::string> LeaseTable::ChainBelow(const Lease& parent) {
  std::vector<std::string> chain = parent.chain;
  chain.push_back(parent.info.name);
  return chain;
}

std::set<std::string> LeaseTable::ChargedNames(const Lease& lease) {
  std::set<std::string> names(lease.chain.begin(), lease.chain.end());
  names.insert(lease.info.name);
  return names;
}

LeaseTable::LeaseTable(UnownedDispatcher dispatcher, std::function<void(std::string)> report,
                       std::function<void()> ended)
    : dispatcher_(std::move(dispatcher)), report_(std::move(report)), ended_(std::move(ended)) {}

LeaseTable::~LeaseTable() = default;

Result<void> LeaseTable::CheckToken(const std::string& token) {
  if (token.size() < 16 || token.size() > 64) {
    return Fail(ErrorCode::kInvalidArgument,
                "a lease token has 16..64 bytes, not " + std::to_string(token.size()));
  }
  bool ok = std::ranges::all_of(token, [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
  });
  if (!ok) return Fail(ErrorCode::kInvalidArgument, "a lease token is made of [A-Za-z0-9_-]");
  return Ok();
}

Result<uint64_t> LeaseTable::Acquire(LeaseInfo info) {
  // The hand-offs waiting for this token; the first is the parent unless
  // one was named.
  std::vector<uint64_t> handed;
  if (!info.token.empty()) {
    TRELLIS_TRY(CheckToken(info.token));
    for (const auto& [id, lease] : leases_) {
      if (lease.info.token == info.token) {
        return Fail(ErrorCode::kAlreadyExists,
                    "lease token already names " + Who(id, lease.info));
      }
      if (lease.handoff_token == info.token) handed.push_back(id);
    }
  }
  if (info.parent != 0 && !leases_.contains(info.parent)) {
    return Fail(ErrorCode::kNotFound,
                "no wake lease " + std::to_string(info.parent) + " is held to derive from");
  }
  if (info.parent == 0 && !handed.empty()) info.parent = handed.front();
  std::vector<std::string> chain;
  if (info.parent != 0) chain = ChainBelow(leases_.at(info.parent));
  const uint64_t id = next_id_++;
  ++StatsFor(info.name).acquired;
  auto max_hold = info.max_hold;
  leases_[id] = Lease{.info = std::move(info),
                      .chain = std::move(chain),
                      .since = std::chrono::system_clock::now(),
                      .start = std::chrono::steady_clock::now()};
  for (uint64_t from : handed) {
    End(leases_.find(from), "handed off to wake lease " + std::to_string(id));
  }
  if (max_hold.count() > 0) ArmBudget(id, max_hold);
  return id;
}

void LeaseTable::ArmBudget(uint64_t id, std::chrono::milliseconds max_hold) {
  auto notice = std::min(max_hold / 4, kMaxNotice);
  auto alive = std::weak_ptr(alive_);
  (void)dispatcher_.PostAfter(max_hold - notice, [this, alive, id, notice] {
    if (alive.expired()) return;
    auto it = leases_.find(id);
    if (it == leases_.end() || !it->second.info.notify) return;
    v1::WakeLeaseEvent event;
    event.mutable_release_requested()->set_lease_id(id);
    *event.mutable_release_requested()->mutable_revoke_in() = ToDuration(notice);
    it->second.info.notify(event, false);
  });
  (void)dispatcher_.PostAfter(max_hold, [this, alive, id, max_hold] {
    if (alive.expired()) return;
    auto it = leases_.find(id);
    if (it == leases_.end()) return;
    ++revoked_;
    ++StatsFor(it->second.info.name).revoked;
    const std::string reason = "held past its budget of " + Ms(max_hold);
    report_(Who(id, it->second.info) + " revoked: " + reason);
    End(it, reason);
    ended_();
  });
}

bool LeaseTable::Release(uint64_t id) {
  auto it = leases_.find(id);
  if (it == leases_.end()) return false;
  if (!it->second.handoff_token.empty()) {
    it->second.let_go = true;  // Held for its receiver.
    return true;
  }
  End(it, "");
  return true;
}

Result<bool> LeaseTable::HandOff(uint64_t id, const std::string& token, uint32_t pid,
                                 std::chrono::milliseconds deadline) {
  TRELLIS_TRY(CheckToken(token));
  auto it = leases_.find(id);
  if (it == leases_.end() || it->second.let_go) {
    return Fail(ErrorCode::kNotFound, "no wake lease " + std::to_string(id) + " is held");
  }
  Lease& lease = it->second;
  if (pid != 0 && lease.info.pid != 0 && pid != lease.info.pid) {
    return Fail(ErrorCode::kPermissionDenied,
                Who(id, lease.info) + " belongs to another process");
  }
  if (!lease.handoff_token.empty()) {
    return Fail(ErrorCode::kFailedPrecondition, Who(id, lease.info) + " is already handed off");
  }
  if (lease.info.token == token) {
    return Fail(ErrorCode::kInvalidArgument, "a lease cannot be handed off to its own token");
  }
  for (auto& [receiver_id, receiver] : leases_) {
    if (receiver.info.token != token) continue;
    // Already there: it derives from this one if it named no parent.
    if (receiver.info.parent == 0) {
      receiver.info.parent = id;
      receiver.chain = ChainBelow(lease);
    }
    End(it, "handed off to wake lease " + std::to_string(receiver_id));
    return true;
  }
  if (deadline <= std::chrono::milliseconds(0) || deadline > kMaxHandOff) deadline = kMaxHandOff;
  lease.handoff_token = token;
  (void)dispatcher_.PostAfter(deadline, [this, alive = std::weak_ptr(alive_), id, token,
                                         deadline] {
    if (alive.expired()) return;
    auto it = leases_.find(id);
    if (it == leases_.end() || it->second.handoff_token != token) return;
    ++expired_handoffs_;
    const std::string reason = "handed off, but no lease with its token came within " + Ms(deadline);
    report_(Who(id, it->second.info) + " released: " + reason);
    End(it, reason);
    ended_();
  });
  return false;
}

void LeaseTable::End(std::map<uint64_t, Lease>::iterator it, const std::string& why) {
  const uint64_t id = it->first;
  Lease lease = std::move(it->second);
  leases_.erase(it);
  const auto held = std::chrono::steady_clock::now() - lease.start;
  NameStats& own = StatsFor(lease.info.name);
  own.held += held;
  own.max_held = std::max<std::chrono::nanoseconds>(own.max_held, held);
  for (const auto& name : ChargedNames(lease)) StatsFor(name).charged += held;
  if (!why.empty() && !lease.let_go && lease.info.notify) {
    lease.info.notify(Revoked(id, why), true);
  }
}

LeaseTable::NameStats& LeaseTable::StatsFor(const std::string& name) {
  if (auto it = names_.find(name); it != names_.end()) return it->second;
  if (names_.size() >= kMaxNames - 1) return names_[kOtherNames];
  return names_[name];
}

std::string LeaseTable::Describe() const {
  std::string text;
  auto now = std::chrono::system_clock::now();
  for (const auto& [id, lease] : leases_) {
    if (!text.empty()) text += "; ";
    auto held = std::chrono::duration_cast<std::chrono::milliseconds>(now - lease.since);
    text += "'" + lease.info.name + "' (" + lease.info.holder + ", pid " +
            std::to_string(lease.info.pid) + ", held " + Ms(held) +
            (lease.handoff_token.empty() ? "" : ", handing off") + ")";
  }
  return text;
}

v1::ListLeasesResponse LeaseTable::List() const {
  v1::ListLeasesResponse list;
  for (const auto& [id, lease] : leases_) {
    auto* info = list.add_leases();
    info->set_lease_id(id);
    info->set_name(lease.info.name);
    info->set_pid(lease.info.pid);
    info->set_uid(lease.info.uid);
    info->set_holder(lease.info.holder);
    *info->mutable_since() = TimeUtil::NanosecondsToTimestamp(
        std::chrono::duration_cast<std::chrono::nanoseconds>(lease.since.time_since_epoch())
            .count());
    info->set_parent_lease_id(lease.info.parent);
    for (const auto& name : lease.chain) info->add_chain(name);
    if (lease.info.max_hold.count() > 0) {
      *info->mutable_max_hold() = ToDuration(lease.info.max_hold);
    }
    info->set_handing_off(!lease.handoff_token.empty());
  }
  return list;
}

void LeaseTable::FillStats(v1::SuspendStats& stats) const {
  // Held leases count so far.
  std::map<std::string, NameStats> names = names_;
  auto now = std::chrono::steady_clock::now();
  for (const auto& [id, lease] : leases_) {
    const auto held = now - lease.start;
    auto own = names.find(lease.info.name);
    if (own == names.end()) own = names.find(kOtherNames);
    if (own != names.end()) {
      own->second.held += held;
      own->second.max_held = std::max<std::chrono::nanoseconds>(own->second.max_held, held);
    }
    for (const auto& name : ChargedNames(lease)) {
      auto it = names.find(name);
      if (it == names.end()) it = names.find(kOtherNames);
      if (it != names.end()) it->second.charged += held;
    }
  }
  std::vector<std::pair<std::string, NameStats>> sorted(names.begin(), names.end());
  std::ranges::stable_sort(sorted, [](const auto& a, const auto& b) {
    return a.second.charged > b.second.charged;
  });
  for (const auto& [name, s] : sorted) {
    auto* out = stats.add_leases();
    out->set_name(name);
    out->set_acquired(s.acquired);
    *out->mutable_held() = ToDuration(s.held);
    *out->mutable_max_held() = ToDuration(s.max_held);
    *out->mutable_charged() = ToDuration(s.charged);
    out->set_revoked(s.revoked);
  }
  stats.set_revoked_leases(revoked_);
  stats.set_expired_handoffs(expired_handoffs_);
}

}  // namespace trellis::power
