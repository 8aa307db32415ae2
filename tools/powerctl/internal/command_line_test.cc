// Tests of MarkTrailingCommand.
#include "tools/powerctl/internal/command_line.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace trellis::powerctl::internal {
namespace {

using Args = std::vector<std::string>;

Args Mark(Args args) {
  return MarkTrailingCommand(std::move(args), "lease", [](std::string_view option) {
    return option == "--name" || option == "--endpoint" || option == "--timeout";
  });
}

TEST(MarkTrailingCommandTest, MarksTheCommandAfterTheSubcommandsOptions) {
  EXPECT_EQ(Mark({"lease", "--name", "x", "ls", "-l"}),
            (Args{"lease", "--name", "x", "--", "ls", "-l"}));
  EXPECT_EQ(Mark({"--json", "--endpoint", "unix:/s", "lease", "--name=x", "--timeout", "1s",
                  "sh", "-c", "exit 3"}),
            (Args{"--json", "--endpoint", "unix:/s", "lease", "--name=x", "--timeout", "1s", "--",
                  "sh", "-c", "exit 3"}));
}

TEST(MarkTrailingCommandTest, CommandArgumentsLookingLikeOptionsStayTheCommands) {
  EXPECT_EQ(Mark({"lease", "--name", "x", "cmd", "--name", "y", "--json"}),
            (Args{"lease", "--name", "x", "--", "cmd", "--name", "y", "--json"}));
}

TEST(MarkTrailingCommandTest, LeavesExplicitSeparatorsAndOtherCommandsAlone) {
  EXPECT_EQ(Mark({"lease", "--name", "x", "--", "ls"}), (Args{"lease", "--name", "x", "--", "ls"}));
  EXPECT_EQ(Mark({"status", "lease"}), (Args{"status", "lease"}));
  EXPECT_EQ(Mark({"--endpoint", "lease", "status"}), (Args{"--endpoint", "lease", "status"}));
  EXPECT_EQ(Mark({"lease", "--name", "x"}), (Args{"lease", "--name", "x"}));
  EXPECT_EQ(Mark({"lease", "--name"}), (Args{"lease", "--name"}));
  EXPECT_EQ(Mark({}), Args{});
}

TEST(MarkTrailingCommandTest, ALoneDashIsACommandNotAnOption) {
  EXPECT_EQ(Mark({"lease", "--name", "x", "-"}), (Args{"lease", "--name", "x", "--", "-"}));
}

}  // namespace
}  // namespace trellis::powerctl::internal
