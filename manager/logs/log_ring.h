// LogRing: the manager's recent log, for `trellisctl logs` (DriverManager.
// ReadLogs). Driver hosts write to stderr, which the manager reads through a
// pipe; each line becomes an entry, structured when it has the driver
// logging format ("[host] driver@node level: text", DriverContext::Log) and
// kept as text otherwise. The oldest entries go first once it is full.
//
// Threading: touched on the manager's dispatcher only.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace trellis::manager {

struct LogEntry {
  uint64_t seq = 0;  // 1, 2, ...: never reused.
  std::chrono::system_clock::time_point time;
  std::string host;
  std::string driver;  // Empty for a line not from DriverContext::Log.
  std::string node;
  std::string level;   // "info", "warning", "error"; "output" for other lines.
  std::string text;
};

struct LogFilter {
  std::string node_prefix;  // A node and its descendants; empty: all.
  std::string driver;       // Empty: all.

  bool Matches(const LogEntry& entry) const;
};

class LogRing {
 public:
  explicit LogRing(size_t capacity = 4096) : capacity_(capacity) {}

  // Adds one line a host wrote; returns the entry.
  const LogEntry& AddHostLine(std::string_view host, std::string_view line);
  // The last `count` entries that match (all of them if count is 0), oldest
  // first.
  std::vector<LogEntry> Last(const LogFilter& filter, size_t count) const;
  uint64_t last_seq() const { return next_seq_ - 1; }
  // Warnings and errors a node's driver logged, ever (not only those kept).
  struct LevelCounts {
    uint64_t warnings = 0;
    uint64_t errors = 0;
  };
  LevelCounts CountsOf(const std::string& node) const;

 private:
  std::map<std::string, LevelCounts> counts_;
  size_t capacity_;
  std::deque<LogEntry> entries_;
  uint64_t next_seq_ = 1;
};

}  // namespace trellis::manager
