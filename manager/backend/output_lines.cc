#include "manager/backend/output_lines.h"

#include <unistd.h>

#include <cerrno>

namespace trellis::manager {

namespace {

void Emit(std::string_view text, const std::function<void(std::string_view)>& line) {
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  line(text);
}

}  // namespace

void OutputLines::Append(std::string_view data, const std::function<void(std::string_view)>& line) {
  while (!data.empty()) {
    size_t newline = data.find('\n');
    std::string_view part = data.substr(0, newline);
    if (pending_.size() + part.size() > kMaxLine) {
      size_t take = kMaxLine - pending_.size();
      pending_.append(part.substr(0, take));
      Emit(pending_, line);
      pending_.clear();
      data.remove_prefix(take);
      continue;
    }
    if (newline == std::string_view::npos) {
      pending_.append(part);
      return;
    }
    if (pending_.empty()) {
      Emit(part, line);
    } else {
      pending_.append(part);
      Emit(pending_, line);
      pending_.clear();
    }
    data.remove_prefix(newline + 1);
  }
}

void OutputLines::Flush(const std::function<void(std::string_view)>& line) {
  if (pending_.empty()) return;
  Emit(pending_, line);
  pending_.clear();
}

bool OutputLines::ReadFrom(int fd, const std::function<void(std::string_view)>& line) {
  char buffer[4096];
  for (int reads = 0; reads < 64; ++reads) {
    ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n > 0) {
      Append(std::string_view(buffer, static_cast<size_t>(n)), line);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return true;
    Flush(line);  // End of output, or an error: stop reading.
    return false;
  }
  return true;
}

}  // namespace trellis::manager
