#include "manager/manifest/json_proto.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include <google/protobuf/util/json_util.h>

#include "manager/manifest/internal/strict_json.h"
#include "manager/manifest/internal/validation.h"

namespace trellis::manager {

namespace {

using internal::FieldError;
using internal::FileError;
using internal::Printable;
using internal::Quote;

constexpr std::string_view kUnknownFieldSuffix = ": Cannot find field.";
constexpr size_t kExcerptBytes = 20;  // protobuf shows 20 bytes past the error
constexpr size_t kMaxQuotedBytes = 80;
constexpr size_t kMaxReasonBytes = 200;

// Closes a file descriptor on scope exit.
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;
  ~FdCloser() { ::close(fd_); }

 private:
  int fd_;
};

bool IsBlank(std::string_view text) {
  return text.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

// protobuf's JSON errors come as one of
//   "[(<location>) ]<key>: Cannot find field."      unknown key
//   "(<location>): <text>"                          wrong type or value
//   "(<location>) <key>: <text>"                    e.g. a repeated map key
//   "<text>\n<excerpt>\n<spaces>^"                   JSON syntax
// and are turned into the manifest error shape here. Keys, values and
// excerpts are the manifest's own bytes, so they are escaped and cut.
Error FromProtobufError(const std::filesystem::path& source, std::string_view text) {
  if (text.ends_with(kUnknownFieldSuffix)) {
    std::string_view key = text.substr(0, text.size() - kUnknownFieldSuffix.size());
    std::string field;
    if (key.starts_with('(')) {
      size_t close = key.find(") ");
      if (close != std::string_view::npos) {
        field = std::string(key.substr(1, close - 1)) + ".";
        key = key.substr(close + 2);
      }
    }
    field += Printable(key, kMaxQuotedBytes);
    return FieldError(source, field, "unknown field " + Quote(key));
  }

  if (text.starts_with('(')) {
    size_t close = text.find(')');
    if (close != std::string_view::npos) {
      std::string_view rest = text.substr(close + 1);
      if (rest.starts_with(':')) rest.remove_prefix(1);
      if (rest.starts_with(' ')) rest.remove_prefix(1);
      return FieldError(source, Printable(text.substr(1, close - 1), kMaxReasonBytes),
                        Printable(rest, kMaxReasonBytes));
    }
  }

  size_t newline = text.find('\n');
  std::string_view line = text.substr(0, newline);
  if (line.starts_with(": ")) line.remove_prefix(2);
  std::string reason = "invalid JSON: " + Printable(line, kMaxReasonBytes);
  if (newline != std::string_view::npos) {
    // The excerpt may itself hold newlines, so the caret line is found from the end.
    std::string_view rest = text.substr(newline + 1);
    size_t last_newline = rest.rfind('\n');
    if (last_newline != std::string_view::npos) {
      std::string_view excerpt = rest.substr(0, last_newline);
      std::string_view caret_line = rest.substr(last_newline + 1);
      size_t caret = caret_line.find('^');
      if (caret != std::string_view::npos && caret < excerpt.size()) {
        reason += " near " + Quote(excerpt.substr(caret, kExcerptBytes));
      }
    }
  }
  return FileError(source, reason);
}

}  // namespace

Result<std::string> ReadManifestFile(const std::filesystem::path& path) {
  // O_NONBLOCK so that opening a FIFO by mistake does not hang the manager.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return FailErrno(errno, path.string() + ": cannot open");
  FdCloser closer(fd);

  struct stat st {};
  if (::fstat(fd, &st) != 0) return FailErrno(errno, path.string() + ": cannot stat");
  if (!S_ISREG(st.st_mode)) return Fail(FileError(path, "not a regular file"));
  if (static_cast<unsigned long long>(st.st_size) > kMaxManifestBytes) {
    return Fail(FileError(path, "manifest is larger than 1 MiB"));
  }

  // One byte more than fstat promised, to notice a file that grew since;
  // the buffer grows up to one byte past the limit.
  std::string contents(static_cast<size_t>(st.st_size) + 1, '\0');
  size_t total = 0;
  while (true) {
    if (total == contents.size()) {
      if (total > kMaxManifestBytes) break;
      contents.resize(std::min(2 * total, kMaxManifestBytes + 1));
    }
    ssize_t n = ::read(fd, contents.data() + total, contents.size() - total);
    if (n < 0) {
      if (errno == EINTR) continue;
      return FailErrno(errno, path.string() + ": cannot read");
    }
    if (n == 0) break;
    total += static_cast<size_t>(n);
  }
  if (total > kMaxManifestBytes) return Fail(FileError(path, "manifest is larger than 1 MiB"));
  contents.resize(total);
  return contents;
}

Result<void> ParseJsonMessage(std::string_view json, const std::filesystem::path& source,
                              google::protobuf::Message& out) {
  out.Clear();
  if (json.size() > kMaxManifestBytes) {
    return Fail(FileError(source, "manifest is larger than 1 MiB"));
  }
  if (IsBlank(json)) return Fail(FileError(source, "manifest is empty"));

  // Before protobuf: its transcoder is slow on deeply nested arrays.
  if (auto depth = internal::CheckJsonDepth(json)) {
    return Fail(FieldError(source, depth->field, depth->reason));
  }

  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &out, options);
  if (!status.ok()) {
    std::string_view text(status.message().data(), status.message().size());
    return Fail(FromProtobufError(source, text));
  }

  // protobuf accepted it; now hold it to plain JSON, which protobuf does not.
  if (auto syntax = internal::CheckStrictJson(json)) {
    out.Clear();
    return Fail(FieldError(source, syntax->field, syntax->reason));
  }
  return Ok();
}

}  // namespace trellis::manager
