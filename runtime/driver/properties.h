// NodeProperty: the typed key/value pairs on a node that bind rules match
// (after Fuchsia's node properties). Plain C++ types, so drivers need no
// protobuf.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace trellis {

using PropertyValue = std::variant<uint64_t, std::string, bool>;

struct NodeProperty {
  std::string key;
  PropertyValue value;
  friend bool operator==(const NodeProperty&, const NodeProperty&) = default;
};

using NodeProperties = std::vector<NodeProperty>;

// "42", "\"text\"", "true".
std::string PropertyValueToString(const PropertyValue& value);

// The value of `key`, if present.
inline const PropertyValue* FindProperty(const NodeProperties& props, std::string_view key) {
  for (const auto& p : props) {
    if (p.key == key) return &p.value;
  }
  return nullptr;
}

}  // namespace trellis
