#include "manager/logs/log_ring.h"

#include <algorithm>

namespace trellis::manager {

namespace {

// "[host] driver@node level: text" → the fields; false if it is not one.
bool ParseDriverLine(std::string_view line, LogEntry& entry) {
  if (!line.starts_with('[')) return false;
  size_t close = line.find("] ");
  if (close == std::string_view::npos) return false;
  std::string_view rest = line.substr(close + 2);
  size_t at = rest.find('@');
  size_t space = rest.find(' ');
  if (at == std::string_view::npos || space == std::string_view::npos || at > space) return false;
  size_t colon = rest.find(": ", space);
  if (colon == std::string_view::npos) return false;
  std::string_view level = rest.substr(space + 1, colon - space - 1);
  if (level != "info" && level != "warning" && level != "error") return false;
  entry.driver = rest.substr(0, at);
  entry.node = rest.substr(at + 1, space - at - 1);
  entry.level = level;
  entry.text = rest.substr(colon + 2);
  return true;
}

}  // namespace

bool LogFilter::Matches(const LogEntry& entry) const {
  if (!driver.empty() && entry.driver != driver) return false;
  if (node_prefix.empty()) return true;
  return entry.node == node_prefix ||
         (entry.node.starts_with(node_prefix) && entry.node[node_prefix.size()] == '.');
}

const LogEntry& LogRing::AddHostLine(std::string_view host, std::string_view line) {
  LogEntry entry;
  entry.seq = next_seq_++;
  entry.time = std::chrono::system_clock::now();
  entry.host = host;
  if (!ParseDriverLine(line, entry)) {
    entry.level = "output";
    entry.text = line;
  }
  if (entry.level == "warning") ++counts_[entry.node].warnings;
  if (entry.level == "error") ++counts_[entry.node].errors;
  if (entries_.size() == capacity_) entries_.pop_front();
  entries_.push_back(std::move(entry));
  return entries_.back();
}

LogRing::LevelCounts LogRing::CountsOf(const std::string& node) const {
  auto it = counts_.find(node);
  return it == counts_.end() ? LevelCounts{} : it->second;
}

std::vector<LogEntry> LogRing::Last(const LogFilter& filter, size_t count) const {
  std::vector<LogEntry> found;
  for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
    if (count != 0 && found.size() == count) break;
    if (filter.Matches(*it)) found.push_back(*it);
  }
  std::reverse(found.begin(), found.end());
  return found;
}

}  // namespace trellis::manager
