// Strict JSON → protobuf parsing of hand-written manifests, and the bounded
// file read in front of it. Every error names the file it came from.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include <google/protobuf/message.h>

#include "runtime/error.h"

namespace trellis::manager {

// Manifests larger than this are rejected before parsing.
inline constexpr size_t kMaxManifestBytes = size_t{1} << 20;

// Reads the whole manifest file at `path`. Thread-safe; blocks on file I/O.
// Errors (messages start with "<path>: "):
//   kNotFound          — the file does not exist.
//   kPermissionDenied  — the file cannot be opened for reading.
//   kInvalidArgument   — not a regular file, or larger than kMaxManifestBytes.
//   other codes        — a read error, coded after its errno.
[[nodiscard]] Result<std::string> ReadManifestFile(const std::filesystem::path& path);

// Parses `json` into `out` (cleared first). Strict: unknown keys, JSON that is
// not RFC 8259 (single quotes, unquoted keys, trailing commas), a key given
// twice in one object, arrays and objects nested deeper than 64 levels, an
// empty document and one larger than kMaxManifestBytes are all rejected. Never fails on a crash path: any input
// gives either success or an error. Thread-safe.
// Errors: kInvalidArgument, with the message
//   "<source>: field '<dotted.field>': <reason>" when protobuf or the syntax
//   check names a field (e.g. "field 'bind.accept[0].bogus': unknown field 'bogus'"),
//   "<source>: <reason>" otherwise (e.g. "invalid JSON: Unexpected end of
//   string. Expected a value.").
[[nodiscard]] Result<void> ParseJsonMessage(std::string_view json,
                                            const std::filesystem::path& source,
                                            google::protobuf::Message& out);

}  // namespace trellis::manager
