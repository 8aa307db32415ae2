// DriverIndexLoad: every driver manifest found in the board's driver
// directories, plus the errors of the ones that did not load.
#pragma once

#include <filesystem>
#include <vector>

#include "manager/manifest/driver_manifest.h"
#include "runtime/error.h"

namespace trellis::manager {

struct DriverIndexLoad {
  // Valid drivers, in directory order, then file-name order within a directory.
  std::vector<DriverManifestFile> drivers;
  // One error per manifest that was skipped, or per unreadable directory.
  std::vector<Error> errors;
};

// Loads every `*.json` file directly inside each of `dirs` (not recursing),
// sorted by file name so the result is deterministic. A manifest that fails
// to load is recorded in `errors` and skipped; the others still load, so one
// bad driver never stops the system from booting. A manifest whose driver
// name was already loaded is rejected with
//   "<path>: field 'name': duplicate driver name 'echo' (first defined in <other>)".
// A directory that is missing or cannot be listed is one error
// ("<dir>: cannot list driver directory: <strerror>", coded after errno).
// Thread-safe; blocks on file I/O.
DriverIndexLoad LoadDriverDirectories(const std::vector<std::filesystem::path>& dirs);

}  // namespace trellis::manager
