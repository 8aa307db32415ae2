// Tests of Table and its text helpers.
#include "tools/client/table.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace trellis::client {
namespace {

TEST(TableTest, PadsColumnsAndTrimsTrailingBlanks) {
  Table table({"A", "LONGER", "C"});
  table.AddRow({"wide-cell", "", ""});
  table.AddRow({"x", "y", "z"});
  EXPECT_EQ(table.Render(),
            "A          LONGER  C\n"
            "wide-cell\n"
            "x          y       z\n");
}

TEST(TableTest, CountsUtf8CodePointsAsOneColumn) {
  EXPECT_EQ(DisplayWidth("├─ a"), 4u);
  Table table({"X", "Y"});
  table.AddRow({"├─", "z"});
  EXPECT_EQ(table.Render(),
            "X   Y\n"
            "├─  z\n");
}

TEST(TableTest, JoinOrDashUsesDashForEmptyLists) {
  EXPECT_EQ(JoinOrDash(std::vector<std::string>{}), "-");
  EXPECT_EQ(JoinOrDash(std::vector<std::string>{"a", "b"}), "a, b");
}

}  // namespace
}  // namespace trellis::client
