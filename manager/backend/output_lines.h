// OutputLines: splits a child's output, read in arbitrary chunks, into
// lines for the manager's log. Pure; one thread at a time.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace trellis::manager {

class OutputLines {
 public:
  // A line longer than this is passed on in pieces of this size.
  static constexpr size_t kMaxLine = 4096;

  // Appends `data`; calls `line` for every complete line in it (without the
  // '\n'; a trailing '\r' is dropped too).
  void Append(std::string_view data, const std::function<void(std::string_view)>& line);
  // Passes on what is left of an unfinished last line, if anything.
  void Flush(const std::function<void(std::string_view)>& line);

 private:
  std::string pending_;
};

}  // namespace trellis::manager
