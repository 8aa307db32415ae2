#include "tools/vhost-backend/command_line.h"

#include <gtest/gtest.h>

#include <sstream>

namespace trellis::vhost_backend {
namespace {

using virtio::Misbehaviour;

struct Parsed {
  ParseResult result;
  std::string out;
  std::string err;
};

Parsed Parse(std::vector<std::string> args) {
  std::ostringstream out, err;
  ParseResult r = ParseCommandLine(args, out, err);
  return {std::move(r), out.str(), err.str()};
}

TEST(VhostBackendCommandLineTest, ParsesEveryOption) {
  Parsed p = Parse({"--device", "console", "--socket", "/tmp/s", "--input", "in", "--output", "out",
                    "--misbehave", "index-jump", "--misbehave-after", "3", "--stall-after", "0",
                    "--once"});
  ASSERT_TRUE(p.result.options) << p.err;
  const CommandLine& cl = *p.result.options;
  EXPECT_EQ(cl.device, "console");
  EXPECT_EQ(cl.socket, "/tmp/s");
  EXPECT_EQ(cl.input, "in");
  EXPECT_EQ(cl.output, "out");
  EXPECT_EQ(cl.hostile.misbehave, Misbehaviour::kIndexJump);
  EXPECT_EQ(cl.hostile.misbehave_after, 3u);
  EXPECT_EQ(cl.hostile.stall_after, uint64_t{0});
  EXPECT_TRUE(cl.once);
}

TEST(VhostBackendCommandLineTest, DefaultsAreWellBehaved) {
  Parsed p = Parse({"--device", "rng", "--socket", "/tmp/s"});
  ASSERT_TRUE(p.result.options) << p.err;
  EXPECT_EQ(p.result.options->hostile.misbehave, Misbehaviour::kNone);
  EXPECT_EQ(p.result.options->hostile.misbehave_after, 1u);
  EXPECT_FALSE(p.result.options->hostile.stall_after);
  EXPECT_FALSE(p.result.options->once);
}

TEST(VhostBackendCommandLineTest, HelpExitsZero) {
  Parsed p = Parse({"--help"});
  EXPECT_FALSE(p.result.options);
  EXPECT_EQ(p.result.exit_code, kExitOk);
  EXPECT_NE(p.out.find("--misbehave-after"), std::string::npos) << p.out;
}

TEST(VhostBackendCommandLineTest, UsageErrorsExitTwoNamingTheFlag) {
  struct Case {
    std::vector<std::string> args;
    std::string flag;
  };
  const Case cases[] = {
      {{"--device", "blk", "--socket", "/s"}, "--device"},
      {{"--device", "rng"}, "--socket"},
      {{"--device", "rng", "--socket", "/s", "--misbehave", "sometimes"}, "--misbehave"},
      {{"--device", "rng", "--socket", "/s", "--misbehave-after", "0"}, "--misbehave-after"},
      {{"--device", "rng", "--socket", "/s", "--stall-after", "-1"}, "--stall-after"},
      {{"--device", "rng", "--socket", "/s", "--input", "x"}, "--input"},
      {{"--device", "rng", "--socket", "/s", "--bogus"}, "--bogus"},
  };
  for (const Case& c : cases) {
    Parsed p = Parse(c.args);
    EXPECT_FALSE(p.result.options) << c.flag;
    EXPECT_EQ(p.result.exit_code, kExitUsage) << c.flag;
    EXPECT_NE(p.err.find(c.flag), std::string::npos) << c.flag << ": " << p.err;
  }
}

}  // namespace
}  // namespace trellis::vhost_backend
