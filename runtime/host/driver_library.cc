#include "runtime/host/driver_library.h"

#include <dlfcn.h>

#include <map>

namespace trellis::host {

namespace {
Mutex g_mu;
std::map<std::string, std::unique_ptr<DriverLibrary>> g_loaded TRELLIS_GUARDED_BY(g_mu);
}  // namespace

Result<const DriverLibrary*> DriverLibrary::Load(const std::string& path) {
  MutexLock lock(g_mu);
  if (auto it = g_loaded.find(path); it != g_loaded.end()) return it->second.get();
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    return Fail(ErrorCode::kNotFound,
                "cannot load driver library " + path + ": " + (why ? why : "unknown error"));
  }
  auto* exports = static_cast<const TrellisDriverExport*>(dlsym(handle, TRELLIS_DRIVER_EXPORT_SYMBOL));
  if (exports == nullptr) {
    dlclose(handle);
    return Fail(ErrorCode::kInvalidArgument,
                "driver library " + path + " has no '" TRELLIS_DRIVER_EXPORT_SYMBOL
                "' symbol; did it use TRELLIS_DRIVER_EXPORT?");
  }
  if (exports->abi_version != TRELLIS_DRIVER_ABI_VERSION ||
      exports->struct_size < sizeof(TrellisDriverExport)) {
    uint32_t version = exports->abi_version;
    dlclose(handle);
    return Fail(ErrorCode::kFailedPrecondition,
                "driver library " + path + " was built for driver ABI " + std::to_string(version) +
                    "; this host supports ABI " + std::to_string(TRELLIS_DRIVER_ABI_VERSION));
  }
  auto library = std::unique_ptr<DriverLibrary>(new DriverLibrary(path, exports));
  const DriverLibrary* raw = library.get();
  g_loaded.emplace(path, std::move(library));
  return raw;
}

}  // namespace trellis::host
