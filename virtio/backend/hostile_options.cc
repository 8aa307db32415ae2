#include "virtio/backend/hostile_options.h"

#include <array>
#include <utility>

namespace trellis::virtio::backend {

namespace {

constexpr std::array<std::pair<Misbehaviour, std::string_view>, 6> kNames = {{
    {Misbehaviour::kIdOutOfRange, "id-out-of-range"},
    {Misbehaviour::kIdNotHead, "id-not-head"},
    {Misbehaviour::kDuplicate, "duplicate"},
    {Misbehaviour::kLengthTooLarge, "length-too-large"},
    {Misbehaviour::kIndexJump, "index-jump"},
    {Misbehaviour::kIndexBackwards, "index-backwards"},
}};

}  // namespace

std::string_view MisbehaviourName(Misbehaviour m) {
  for (const auto& [value, name] : kNames) {
    if (value == m) return name;
  }
  return "none";
}

std::optional<Misbehaviour> ParseMisbehaviour(std::string_view name) {
  for (const auto& [value, n] : kNames) {
    if (n == name) return value;
  }
  return std::nullopt;
}

}  // namespace trellis::virtio::backend
