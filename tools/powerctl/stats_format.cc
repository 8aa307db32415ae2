// Lease statistics, driver latencies and the lease tree as text.
#include "tools/powerctl/stats_format.h"

#include <map>
#include <set>
#include <vector>

#include "tools/client/table.h"

namespace trellis::powerctl {

namespace {

std::string Us(uint64_t us) { return DurationText(std::chrono::microseconds(us)); }

std::string Text(const google::protobuf::Duration& d) { return DurationText(ToNanoseconds(d)); }

}  // namespace

std::string FormatLeaseStats(const power::v1::SuspendStats& stats) {
  if (stats.leases().empty()) return "";
  client::Table table({"NAME", "ACQUIRED", "HELD", "MAX", "CHARGED", "REVOKED"});
  for (const auto& lease : stats.leases()) {
    table.AddRow({lease.name(), std::to_string(lease.acquired()), Text(lease.held()),
                  Text(lease.max_held()), Text(lease.charged()), std::to_string(lease.revoked())});
  }
  return table.Render();
}

std::string FormatDriverLatencies(const power::v1::SuspendStats& stats) {
  client::Table table(
      {"NODE", "DRIVER", "PHASE", "COUNT", "LAST", "MEDIAN", "MAX", "TARGET", "OVER", "FLAGS"});
  bool any = false;
  for (const auto& d : stats.drivers()) {
    for (auto [phase, h] : {std::pair{"suspend", &d.suspend()}, std::pair{"resume", &d.resume()}}) {
      if (h->count() == 0) continue;
      any = true;
      std::vector<std::string> flags;
      if (h->target_us() != 0 && h->last_us() > h->target_us()) flags.push_back("over target");
      if (h->regressed()) flags.push_back("regressed");
      table.AddRow({d.node_path(), d.driver(), phase, std::to_string(h->count()), Us(h->last_us()),
                    h->count() < 2 ? "-" : Us(h->median_us()), Us(h->max_us()),
                    h->target_us() == 0 ? "-" : Us(h->target_us()),
                    std::to_string(h->over_target()), client::JoinOrDash(flags)});
    }
  }
  return any ? table.Render() : "";
}

std::string FormatLeaseTree(const google::protobuf::RepeatedPtrField<power::v1::WakeLeaseInfo>& leases,
                            Clock::time_point now) {
  if (leases.empty()) return "no wake lease is held\n";
  std::set<uint64_t> held;
  std::map<uint64_t, std::vector<const power::v1::WakeLeaseInfo*>> children;
  for (const auto& lease : leases) held.insert(lease.lease_id());
  std::vector<const power::v1::WakeLeaseInfo*> roots;
  for (const auto& lease : leases) {
    if (lease.parent_lease_id() != 0 && held.contains(lease.parent_lease_id())) {
      children[lease.parent_lease_id()].push_back(&lease);
    } else {
      roots.push_back(&lease);
    }
  }
  std::string out;
  auto line = [&](const power::v1::WakeLeaseInfo& lease, const std::string& prefix) {
    out += prefix + std::to_string(lease.lease_id()) + " '" + lease.name() + "'  " +
           lease.holder() + (lease.pid() != 0 ? " (pid " + std::to_string(lease.pid()) + ")" : "") +
           "  " + AgeText(lease.since(), now);
    if (lease.has_max_hold()) out += "  budget " + Text(lease.max_hold());
    if (lease.handing_off()) out += "  handing off";
    if (prefix.empty() && lease.chain_size() > 0) {
      std::string chain;
      for (const auto& name : lease.chain()) chain += (chain.empty() ? "" : " > ") + name;
      out += "  (from " + chain + ")";
    }
    out += "\n";
  };
  // Depth first; `indent` draws the branches above.
  auto walk = [&](auto& self, const power::v1::WakeLeaseInfo& lease, const std::string& indent,
                  bool last, bool root) -> void {
    line(lease, root ? "" : indent + (last ? "└─ " : "├─ "));
    const auto& kids = children[lease.lease_id()];
    std::string below = root ? "" : indent + (last ? "   " : "│  ");
    for (size_t i = 0; i < kids.size(); ++i) self(self, *kids[i], below, i + 1 == kids.size(), false);
  };
  for (const auto* root : roots) walk(walk, *root, "", true, true);
  return out;
}

}  // namespace trellis::powerctl
