// Helpers shared by the manifest validators: the one error shape every
// manifest error has, name patterns, and quoting of untrusted text.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "runtime/error.h"

namespace trellis::manager::internal {

// "<source>: field '<field>': <reason>" with code kInvalidArgument; an empty
// `field` gives the whole-file shape "<source>: <reason>".
Error FieldError(const std::filesystem::path& source, std::string_view field,
                 std::string_view reason);

// "<source>: <reason>" with `code`.
Error FileError(const std::filesystem::path& source, std::string_view reason,
                ErrorCode code = ErrorCode::kInvalidArgument);

// `field` + "[index]", e.g. Indexed("bind.accept", 2) == "bind.accept[2]".
std::string Indexed(std::string_view field, int index);

// True if `name` matches [a-z0-9][a-z0-9._-]{0,62} (driver, board and
// colocation group names).
bool IsValidManifestName(std::string_view name);

// The reason text for a name that fails IsValidManifestName.
std::string InvalidManifestNameReason(std::string_view name);

// `text` safe to put on one line of an error message: bytes outside
// printable ASCII and backslashes are escaped as \xNN, and text past `max_bytes` is
// cut with "...".
std::string Printable(std::string_view text, size_t max_bytes);

// Like Printable(text, 80), in single quotes, with '\'' escaped too.
std::string Quote(std::string_view text);

}  // namespace trellis::manager::internal
