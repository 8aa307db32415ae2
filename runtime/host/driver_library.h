// DriverLibrary: a driver .so loaded with dlopen and its export checked.
// Libraries stay loaded for the life of the host: unloading code that may
// still have threads or static destructors in flight is never worth it.
#pragma once

#include <memory>
#include <string>

#include "runtime/driver/driver_export.h"
#include "runtime/error.h"
#include "runtime/mutex.h"

namespace trellis::host {

class DriverLibrary {
 public:
  // Loads `path` (once per path; later calls return the same library).
  // Errors: kNotFound if dlopen fails (message has dlerror), kInvalidArgument
  // if the library has no `trellis_driver_export` symbol, kFailedPrecondition
  // if its ABI version is not the host's.
  static Result<const DriverLibrary*> Load(const std::string& path);

  const TrellisDriverExport& exports() const { return *exports_; }
  const std::string& path() const { return path_; }

 private:
  DriverLibrary(std::string path, const TrellisDriverExport* exports)
      : path_(std::move(path)), exports_(exports) {}
  std::string path_;
  const TrellisDriverExport* exports_;
};

}  // namespace trellis::host
