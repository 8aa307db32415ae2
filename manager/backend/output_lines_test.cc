#include "manager/backend/output_lines.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace trellis::manager {
namespace {

struct Collected {
  std::vector<std::string> lines;
  std::function<void(std::string_view)> sink() {
    return [this](std::string_view line) { lines.emplace_back(line); };
  }
};

TEST(OutputLinesTest, SplitsChunksIntoLinesAcrossChunkBoundaries) {
  OutputLines output;
  Collected got;
  output.Append("first\nsec", got.sink());
  output.Append("ond\r\nthird", got.sink());
  EXPECT_EQ(got.lines, (std::vector<std::string>{"first", "second"}));
  output.Flush(got.sink());
  EXPECT_EQ(got.lines, (std::vector<std::string>{"first", "second", "third"}));
  output.Flush(got.sink());
  EXPECT_EQ(got.lines.size(), 3u);
}

TEST(OutputLinesTest, EmptyLinesAreKept) {
  OutputLines output;
  Collected got;
  output.Append("\n\na\n", got.sink());
  EXPECT_EQ(got.lines, (std::vector<std::string>{"", "", "a"}));
}

TEST(OutputLinesTest, OverlongLineIsPassedOnInPieces) {
  OutputLines output;
  Collected got;
  output.Append(std::string(OutputLines::kMaxLine + 10, 'x'), got.sink());
  ASSERT_EQ(got.lines.size(), 1u);
  EXPECT_EQ(got.lines[0].size(), OutputLines::kMaxLine);
  output.Append("y\n", got.sink());
  ASSERT_EQ(got.lines.size(), 2u);
  EXPECT_EQ(got.lines[1], std::string(10, 'x') + "y");
}

}  // namespace
}  // namespace trellis::manager
