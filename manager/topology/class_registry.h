// ClassRegistry: every exposed protocol listed under its class, like
// Fuchsia's /dev/class/<class>/NNN: the class is the protocol's service
// name in lower case ("trellis.block.v1.Block" → "block"), the instance
// name the class and a number ("block/000") given in order of first arrival
// and kept by (node, protocol) for as long as the manager runs, so a driver
// that restarts, or a node that is unbound and bound again, keeps it.
//
// Pure bookkeeping: the manager reports arrivals (a driver started) and
// departures (it stopped, crashed, or its node went away) and forwards the
// events this returns to watchers. Touched only on the manager's
// dispatcher.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "trellis/manager/v1/manager.pb.h"

namespace trellis::manager {

class ClassRegistry {
 public:
  // "block" for "trellis.block.v1.Block"; the last dotted component,
  // lower-cased.
  static std::string ClassOf(std::string_view protocol);

  // The driver at `node_path` serves `protocols` now: one ARRIVED event per
  // protocol not already present there.
  std::vector<v1::ClassEvent> Arrive(const std::string& node_path, const std::string& driver,
                                     const std::vector<std::string>& protocols);
  // The driver at `node_path` is gone: one DEPARTED event per instance it
  // had (none if it had none).
  std::vector<v1::ClassEvent> Depart(const std::string& node_path);

  // The present instances of `class_name` (all if empty), by class and
  // number.
  std::vector<v1::ClassInstance> List(std::string_view class_name) const;
  // A present instance by name: "block/000" or "class/block/000".
  std::optional<v1::ClassInstance> Find(std::string_view instance) const;

 private:
  // (node path, protocol) → number within the class, kept after departure.
  std::map<std::pair<std::string, std::string>, uint32_t> numbers_;
  std::map<std::string, uint32_t> next_;  // Per class.
  // Present instances by (class, number).
  std::map<std::pair<std::string, uint32_t>, v1::ClassInstance> present_;
};

}  // namespace trellis::manager
