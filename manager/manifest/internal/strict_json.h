// CheckStrictJson: an RFC 8259 syntax check run after protobuf's JSON parser,
// which on its own accepts single-quoted strings, unquoted keys and silently
// keeps the last of two equal keys.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace trellis::manager::internal {

struct JsonSyntaxError {
  // Dotted path of the enclosing value ("bind.accept[0]"); empty at top level.
  std::string field;
  // What is wrong and where, e.g. "duplicate key 'name' (line 3, column 3)".
  std::string reason;
};

// Deepest nesting of arrays and objects accepted. Board trees need about 36
// levels; protobuf's JSON transcoder takes time quadratic in the depth of
// nested arrays, so depth is bounded before protobuf sees the text.
inline constexpr int kMaxJsonDepth = 64;

// Returns an error if arrays and objects in `json` nest deeper than
// kMaxJsonDepth, else nullopt. One linear pass that only tracks strings and
// brackets; any other syntax problem is left to the parsers.
std::optional<JsonSyntaxError> CheckJsonDepth(std::string_view json);

// Returns the first place where `json` is not strict RFC 8259 JSON, or a key
// repeats within one object, or nesting passes kMaxJsonDepth; nullopt if
// `json` is strict.
std::optional<JsonSyntaxError> CheckStrictJson(std::string_view json);

}  // namespace trellis::manager::internal
