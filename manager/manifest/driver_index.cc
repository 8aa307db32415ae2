#include "manager/manifest/driver_index.h"

#include <algorithm>
#include <map>
#include <string>
#include <system_error>

#include "manager/manifest/internal/validation.h"

namespace trellis::manager {

namespace {

namespace fs = std::filesystem;

Error DirectoryError(const fs::path& dir, const std::error_code& ec) {
  if (ec.category() == std::generic_category() || ec.category() == std::system_category()) {
    return Error::FromErrno(ec.value(), dir.string() + ": cannot list driver directory");
  }
  return internal::FileError(dir, "cannot list driver directory: " + ec.message(),
                             ErrorCode::kInternal);
}

// The `*.json` entries directly inside `dir` that are not directories,
// sorted by file name.
Result<std::vector<fs::path>> ListManifestFiles(const fs::path& dir) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) return Fail(DirectoryError(dir, ec));
  std::vector<fs::path> files;
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    const fs::path& path = it->path();
    if (path.extension() != ".json") continue;
    std::error_code type_ec;
    if (it->is_directory(type_ec)) continue;
    // Anything else, even a dangling symlink, is loaded so that its
    // problem is reported rather than silently skipped.
    files.push_back(path);
  }
  if (ec) return Fail(DirectoryError(dir, ec));
  std::sort(files.begin(), files.end(),
            [](const fs::path& a, const fs::path& b) { return a.filename() < b.filename(); });
  return files;
}

}  // namespace

DriverIndexLoad LoadDriverDirectories(const std::vector<fs::path>& dirs) {
  DriverIndexLoad load;
  std::map<std::string, fs::path, std::less<>> first_source;
  for (const fs::path& dir : dirs) {
    auto files = ListManifestFiles(dir);
    if (!files) {
      load.errors.push_back(std::move(files).error());
      continue;
    }
    for (const fs::path& file : *files) {
      auto driver = LoadDriverManifest(file);
      if (!driver) {
        load.errors.push_back(std::move(driver).error());
        continue;
      }
      auto [it, inserted] = first_source.emplace(driver->manifest.name(), driver->source);
      if (!inserted) {
        load.errors.push_back(internal::FieldError(
            file, "name",
            "duplicate driver name " + internal::Quote(driver->manifest.name()) +
                " (first defined in " + it->second.string() + ")"));
        continue;
      }
      load.drivers.push_back(std::move(*driver));
    }
  }
  return load;
}

}  // namespace trellis::manager
