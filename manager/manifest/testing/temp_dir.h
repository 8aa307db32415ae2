// TempDir: a fresh directory under the system temp directory for a test,
// removed with everything in it when the TempDir goes away.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>

namespace trellis::manager::testing {

class TempDir {
 public:
  // Creates "<tmp>/trellis-manifest-test-XXXXXX"; path() is empty if that
  // failed (tests then fail on their first file write).
  TempDir() {
    std::error_code ec;
    std::string templ =
        (std::filesystem::temp_directory_path(ec) / "trellis-manifest-test-XXXXXX").string();
    if (!ec && ::mkdtemp(templ.data()) != nullptr) path_ = templ;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }

  const std::filesystem::path& path() const { return path_; }

  // Writes `contents` to path()/relative, creating parent directories, and
  // returns the full path.
  std::filesystem::path Write(const std::filesystem::path& relative,
                              std::string_view contents) const {
    std::filesystem::path full = path_ / relative;
    std::error_code ec;
    std::filesystem::create_directories(full.parent_path(), ec);
    std::ofstream out(full, std::ios::binary | std::ios::trunc);
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    return full;
  }

 private:
  std::filesystem::path path_;
};

}  // namespace trellis::manager::testing
