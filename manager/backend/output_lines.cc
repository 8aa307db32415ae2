#include "manager/backend/output_lines.h"

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

}  // namespace trellis::manager
