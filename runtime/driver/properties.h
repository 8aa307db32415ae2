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

#include "runtime/error.h"

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

// The value of `key` as T (uint64_t, std::string or bool), or `fallback`
// when the node has no such property. Errors: kInvalidArgument naming the
// key when the property has another type.
template <typename T>
Result<T> PropertyOr(const NodeProperties& props, std::string_view key, T fallback) {
  const PropertyValue* value = FindProperty(props, key);
  if (value == nullptr) return fallback;
  if (const T* typed = std::get_if<T>(value)) return *typed;
  const char* want = std::is_same_v<T, bool> ? "a bool" : std::is_same_v<T, uint64_t> ? "an integer" : "a string";
  return Fail(ErrorCode::kInvalidArgument, "property '" + std::string(key) + "' must be " + want +
                                               ", not " + PropertyValueToString(*value));
}

}  // namespace trellis
