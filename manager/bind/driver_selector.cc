#include "manager/bind/driver_selector.h"

#include <cstddef>

namespace trellis::manager {

namespace {

using Verdict = Considered::Verdict;

int Priority(const Candidate& candidate) { return candidate.rules->priority(); }

// True if candidate `a` beats candidate `b` (indices into `candidates`).
bool Beats(std::span<const Candidate> candidates, size_t a, size_t b) {
  if (Priority(candidates[a]) != Priority(candidates[b])) {
    return Priority(candidates[a]) > Priority(candidates[b]);
  }
  if (candidates[a].name != candidates[b].name) return candidates[a].name < candidates[b].name;
  return a < b;
}

// Marks the best of `pool` (non-empty) selected and the rest lost; returns
// the winner's index.
size_t Decide(std::span<const Candidate> candidates, const std::vector<size_t>& pool,
              bool fallback, std::vector<Considered>& considered) {
  size_t winner = pool.front();
  for (size_t index : pool) {
    if (Beats(candidates, index, winner)) winner = index;
  }
  const Candidate& best = candidates[winner];
  bool tied = false;
  for (size_t index : pool) {
    if (index == winner) continue;
    const Candidate& loser = candidates[index];
    Considered& entry = considered[index];
    entry.verdict = Verdict::kLostOnPriority;
    if (Priority(loser) < Priority(best)) {
      entry.reason = "lost to '" + best.name + "' on priority (" +
                     std::to_string(Priority(loser)) + " < " + std::to_string(Priority(best)) +
                     ")";
    } else {
      tied = true;
      entry.reason = "lost to '" + best.name + "' on name order at equal priority " +
                     std::to_string(Priority(best));
    }
  }

  Considered& chosen = considered[winner];
  chosen.verdict = Verdict::kSelected;
  std::string count = std::to_string(pool.size());
  if (pool.size() == 1) {
    chosen.reason = "the only matching driver";
  } else if (tied) {
    chosen.reason = "first in name order among " + count + " matching drivers at priority " +
                    std::to_string(Priority(best));
  } else {
    chosen.reason = "highest priority (" + std::to_string(Priority(best)) + ") among " + count +
                    " matching drivers";
  }
  if (fallback) chosen.reason = "fallback: no non-fallback driver matched; " + chosen.reason;
  return winner;
}

}  // namespace

Selection SelectDriver(std::span<const Candidate> candidates, const Properties& properties) {
  Selection selection;
  selection.considered.reserve(candidates.size());
  std::vector<size_t> matching;           // non-fallback
  std::vector<size_t> matching_fallback;  // fallback
  for (size_t i = 0; i < candidates.size(); ++i) {
    const Candidate& candidate = candidates[i];
    Considered& entry = selection.considered.emplace_back(
        Considered{candidate.name, Verdict::kRuleFailed, ""});
    if (candidate.rules == nullptr) {
      if (candidate.disabled) entry.verdict = Verdict::kDisabled;
      entry.reason = "driver has no bind rules";
      continue;
    }
    RuleCheck check = MatchBindRules(*candidate.rules, properties);
    if (candidate.disabled) {
      entry.verdict = Verdict::kDisabled;
      entry.reason = check.matched ? "driver is disabled (its bind rules match)"
                                   : "driver is disabled; " + check.reason;
      continue;
    }
    if (!check.matched) {
      entry.reason = std::move(check.reason);
      continue;
    }
    (candidate.rules->fallback() ? matching_fallback : matching).push_back(i);
  }

  if (!matching.empty()) {
    size_t winner = Decide(candidates, matching, /*fallback=*/false, selection.considered);
    selection.driver = candidates[winner].name;
    for (size_t index : matching_fallback) {
      selection.considered[index].verdict = Verdict::kFallbackNotNeeded;
      selection.considered[index].reason =
          "a non-fallback driver ('" + candidates[winner].name + "') matched";
    }
  } else if (!matching_fallback.empty()) {
    size_t winner = Decide(candidates, matching_fallback, /*fallback=*/true, selection.considered);
    selection.driver = candidates[winner].name;
  }
  return selection;
}

}  // namespace trellis::manager
