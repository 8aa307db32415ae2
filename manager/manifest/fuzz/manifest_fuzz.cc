// Fuzz target for the manifest loaders: every input is parsed both as a
// driver manifest (ParseDriverManifest) and as a board file (ParseBoard), so
// the seeds are plain JSON files.
//
// Checked on every input: no crash, no out-of-bounds access (ASan+UBSan), no
// endless loop (libFuzzer's -timeout); every error is kInvalidArgument, starts
// with the source path and is printable ASCII (manifest bytes are escaped);
// every accepted manifest satisfies the rules the headers promise and survives
// a round trip through protobuf's JSON printer unchanged.
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <string_view>
#include <system_error>

#include "manager/manifest/board.h"
#include "manager/manifest/driver_manifest.h"
#include "manager/manifest/internal/validation.h"

namespace trellis::manager {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void Violated(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "invariant violated: %s %.*s\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

void Check(bool ok, const char* what, std::string_view detail = {}) {
  if (!ok) Violated(what, detail);
}

// A driver directory made once per process: a regular binary, one in a
// subdirectory, a directory named like a binary, a symlink inside and one
// that escapes. Removed at exit.
class DriverDir {
 public:
  DriverDir() {
    std::string tmpl = (fs::temp_directory_path() / "trellis-manifest-fuzz-XXXXXX").string();
    Check(::mkdtemp(tmpl.data()) != nullptr, "mkdtemp");
    path_ = fs::canonical(tmpl);
    std::ofstream(path_ / "libfuzz.so") << "x";
    fs::create_directories(path_ / "sub");
    std::ofstream(path_ / "sub" / "libsub.so") << "x";
    fs::create_directories(path_ / "dir.so");
    fs::create_symlink("libfuzz.so", path_ / "link.so");
    fs::create_symlink("/etc/hostname", path_ / "escape.so");
  }
  ~DriverDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

const DriverDir& Dir() {
  static const DriverDir dir;
  return dir;
}

void CheckError(const Error& error, const fs::path& source) {
  Check(error.code() == ErrorCode::kInvalidArgument, "error code", error.ToString());
  const std::string prefix = source.string() + ": ";
  Check(error.message().starts_with(prefix), "error names the file", error.message());
  for (unsigned char c : error.message()) {
    Check(c >= 0x20 && c < 0x7f, "error message is printable ASCII", error.message());
  }
}

// Prints `message` as JSON with the snake_case names the manifests use;
// false if protobuf cannot (e.g. a Struct holding a non-finite number).
bool ToJson(const google::protobuf::Message& message, std::string& json) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  return google::protobuf::util::MessageToJsonString(message, &json, options).ok();
}

bool IsWithin(const fs::path& path, const fs::path& dir) {
  auto rel = path.lexically_relative(dir);
  return !rel.empty() && *rel.begin() != "..";
}

void FuzzDriverManifest(std::string_view json) {
  const fs::path source = Dir().path() / "fuzzed.json";
  auto file = ParseDriverManifest(json, source, Dir().path());
  if (!file) return CheckError(file.error(), source);

  const auto& manifest = file->manifest;
  Check(internal::IsValidManifestName(manifest.name()), "name rule");
  Check(file->binary_path.is_absolute(), "binary path is absolute");
  Check(IsWithin(file->binary_path, Dir().path()), "binary stays in the driver directory",
        file->binary_path.string());
  Check(fs::is_regular_file(file->binary_path), "binary is a regular file");
  Check(manifest.bind().priority() >= kMinBindPriority &&
            manifest.bind().priority() <= kMaxBindPriority,
        "priority rule");
  Check(!manifest.has_max_restarts() || manifest.max_restarts() <= kMaxDriverRestarts,
        "max_restarts rule");
  std::set<std::string> keys;
  for (const auto& rule : manifest.bind().accept()) {
    Check(!rule.key().empty() && keys.insert(rule.key()).second, "accept keys rule");
  }
  Check(ValidateDriverManifest(manifest, source, Dir().path()).has_value(),
        "an accepted manifest validates again");

  std::string printed;
  if (!ToJson(manifest, printed)) return;
  auto again = ParseDriverManifest(printed, source, Dir().path());
  Check(again.has_value(), "printed manifest parses again",
        again ? std::string_view() : std::string_view(again.error().message()));
  Check(google::protobuf::util::MessageDifferencer::Equals(manifest, again->manifest),
        "printed manifest parses to the same message", printed);
}

int CheckNodes(const google::protobuf::RepeatedPtrField<manifest::v1::BoardNode>& nodes) {
  int depth = 0;
  std::set<std::string> names;
  for (const auto& node : nodes) {
    Check(!node.name().empty() && node.name().size() <= 63, "node name rule");
    Check(names.insert(node.name()).second, "sibling names unique");
    Check(node.properties_size() <= kMaxNodeProperties, "property count rule");
    std::set<std::string> keys;
    for (const auto& property : node.properties()) {
      Check(!property.key().empty() && property.key().size() <= kMaxPropertyKeyLength,
            "property key rule");
      Check(keys.insert(property.key()).second, "property keys unique");
    }
    depth = std::max(depth, 1 + CheckNodes(node.children()));
  }
  return depth;
}

void FuzzBoard(std::string_view json) {
  const fs::path source = Dir().path() / "board.json";
  auto file = ParseBoard(json, source);
  if (!file) return CheckError(file.error(), source);

  const auto& board = file->board;
  Check(internal::IsValidManifestName(board.name()), "board name rule");
  Check(CheckNodes(board.nodes()) <= kMaxBoardTreeDepth, "tree depth rule");
  Check(!file->driver_dirs.empty(), "at least one driver directory");
  Check(file->driver_dirs.size() == static_cast<size_t>(board.driver_dirs_size()),
        "one resolved directory per entry");
  for (const fs::path& dir : file->driver_dirs) Check(dir.is_absolute(), "driver dir absolute");
  if (board.suspend_hal().kind() == manifest::v1::SuspendHal::LINUX_SYSFS) {
    Check(fs::path(board.suspend_hal().state_path()).is_absolute(), "sysfs state path absolute");
  }

  std::string printed;
  if (!ToJson(board, printed)) return;
  auto again = ParseBoard(printed, source);
  Check(again.has_value(), "printed board parses again",
        again ? std::string_view() : std::string_view(again.error().message()));
  Check(google::protobuf::util::MessageDifferencer::Equals(board, again->board),
        "printed board parses to the same message", printed);
}

}  // namespace
}  // namespace trellis::manager

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  trellis::manager::FuzzDriverManifest(json);
  trellis::manager::FuzzBoard(json);
  return 0;
}
