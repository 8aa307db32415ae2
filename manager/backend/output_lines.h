// OutputLines: splits a child's output, read in arbitrary chunks, into
// lines for the manager's log. One thread at a time.
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
  // Reads what the non-blocking pipe `fd` holds and passes on each complete
  // line: at most 64 reads of 4 KiB, so a chatty child cannot hold the
  // dispatcher (its next readiness brings the rest). Returns false once the
  // pipe has ended (every writer closed it, or an error), after passing on
  // an unfinished last line; the caller then closes `fd`.
  bool ReadFrom(int fd, const std::function<void(std::string_view)>& line);

 private:
  std::string pending_;
};

}  // namespace trellis::manager
