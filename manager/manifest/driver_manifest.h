// DriverManifestFile: one driver manifest loaded from JSON and validated,
// with its binary resolved to an absolute path inside the driver directory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string_view>

#include "runtime/error.h"
#include "trellis/manifest/v1/manifest.pb.h"

namespace trellis::manager {

struct DriverManifestFile {
  manifest::v1::DriverManifest manifest;
  // The manifest file, as the caller named it.
  std::filesystem::path source;
  // Absolute directory the binary is resolved against (the file's directory).
  std::filesystem::path directory;
  // The driver .so: absolute, canonical, inside `directory`.
  std::filesystem::path binary_path;
};

// Limits of the validation rules.
inline constexpr int kMinBindPriority = -1000;
inline constexpr int kMaxBindPriority = 1000;
inline constexpr uint32_t kMaxDriverRestarts = 100;
inline constexpr uint32_t kMaxPowerTimeoutMs = 60000;

// Reads, parses and validates the driver manifest at `path`; the binary is
// resolved against the file's directory. Thread-safe; blocks on file I/O.
// Errors:
//   kNotFound          — `path` does not exist ("<path>: cannot open: ...").
//   kPermissionDenied  — `path` cannot be read.
//   kInvalidArgument   — the file is not valid JSON, too large, empty, or
//                        breaks a rule of ValidateDriverManifest; the message
//                        reads "<path>: field '<field>': <reason>".
[[nodiscard]] Result<DriverManifestFile> LoadDriverManifest(const std::filesystem::path& path);

// Parses and validates manifest text as if read from `source`, resolving the
// binary against `directory`; no file is read except the binary's status.
// For fuzzing and tests. Never crashes on any input. Errors as
// LoadDriverManifest (always kInvalidArgument, message starts with `source`).
[[nodiscard]] Result<DriverManifestFile> ParseDriverManifest(
    std::string_view json, const std::filesystem::path& source,
    const std::filesystem::path& directory);

// Checks every rule of a driver manifest, in field order, and returns the
// first violation:
//   name              required, [a-z0-9][a-z0-9._-]{0,62}
//   binary            required, relative, stays inside `directory` after
//                     symlinks are resolved, and is an existing regular file
//   bind              keys non-empty, every value set, no key twice in accept
//                     or in reject, priority within -1000..1000
//   colocation_group  like name if set; not with host_restart_on_crash
//   max_restarts      at most 100
//   stop_timeout_ms   0 or 1..60000
//   power             timeouts 0 or 1..60000 ms, and non-zero only with
//                     managed_dispatchers
//   exposes           dotted protocol names ("trellis.block.v1.Block"), unique
// `source` only labels errors. Thread-safe; stats the binary.
// Errors: kInvalidArgument, "<source>: field '<field>': <reason>".
[[nodiscard]] Result<void> ValidateDriverManifest(const manifest::v1::DriverManifest& manifest,
                                                  const std::filesystem::path& source,
                                                  const std::filesystem::path& directory);

}  // namespace trellis::manager
