// SelectDriver: choosing the driver for a node among all candidates, with a
// verdict per candidate that explains the choice (backs `trellisctl why NODE`).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "manager/bind/bind_rules.h"
#include "trellis/manifest/v1/manifest.pb.h"

namespace trellis::manager {

struct Candidate {
  std::string name;
  // Borrowed; must outlive the SelectDriver call. Null is treated as a driver
  // that matches nothing.
  const manifest::v1::BindRules* rules;
  bool disabled = false;
};

struct Considered {
  std::string driver;
  enum class Verdict {
    kSelected,            // this driver binds
    kLostOnPriority,      // matched, but another driver won (priority or name)
    kRuleFailed,          // its bind rules do not match the node
    kFallbackNotNeeded,   // a fallback driver that matched, but a non-fallback did too
    kDisabled,            // never chosen while disabled
  } verdict;
  // Why, e.g. "lost to 'x' on priority (3 < 7)"; see SelectDriver.
  std::string reason;
};

struct Selection {
  // The chosen driver; nullopt if none matched.
  std::optional<std::string> driver;
  // One entry per candidate, in input order.
  std::vector<Considered> considered;
};

// Picks the driver for a node with `properties`. Among matching, non-disabled,
// non-fallback candidates the highest bind priority wins, ties going to the
// lexicographically smallest name (then the earlier candidate), so the choice
// is deterministic. Only if none of those matches are the matching fallback
// candidates considered, the same way. Reasons:
//   kSelected          "highest priority (7) among 3 matching drivers",
//                      "first in name order among 2 matching drivers at
//                      priority 5", "the only matching driver"; prefixed with
//                      "fallback: no non-fallback driver matched; " for a fallback
//   kLostOnPriority    "lost to 'x' on priority (3 < 7)" or
//                      "lost to 'x' on name order at equal priority 5"
//   kRuleFailed        the MatchBindRules reason
//   kFallbackNotNeeded "a non-fallback driver ('x') matched"
//   kDisabled          "driver is disabled" plus whether its rules match
// Pure; thread-safe; linear in candidates times rules times properties.
Selection SelectDriver(std::span<const Candidate> candidates, const Properties& properties);

}  // namespace trellis::manager
