// Table: left-aligned text columns for the human output of trellisctl and
// powerctl, and the small text helpers that go with it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace trellis::client {

// Columns are padded to their widest cell (counted in UTF-8 code points, so
// tree-drawing characters count as one) and separated by two spaces; the
// last column is not padded and no line has trailing blanks.
class Table {
 public:
  explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }

  // Adds a row; missing cells are empty, extra cells are kept.
  void AddRow(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }

  // The header and rows, one line each, every line ending in '\n'.
  std::string Render() const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// How many columns `text` takes: its UTF-8 code points.
size_t DisplayWidth(std::string_view text);

// "a, b, c"; "-" for an empty list.
template <typename Strings>
std::string JoinOrDash(const Strings& values) {
  std::string out;
  for (const auto& value : values) {
    if (!out.empty()) out += ", ";
    out += value;
  }
  return out.empty() ? "-" : out;
}

}  // namespace trellis::client
