// docs/getting-started.md, run as written: `scripts/run` starts the manager
// on the default board, then every `$ command` of the page's console blocks
// runs from the repository root, and what it prints (stdout and stderr)
// must match the lines the page shows under it. "..." on a line of its own
// skips any number of lines; inside a line it matches any text. Finally
// Ctrl-C (SIGINT) must stop the manager cleanly.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tools/trellisctl/testing/subprocess.h"

namespace trellis::testing {
namespace {

namespace fs = std::filesystem;
using tools::testing::ChildProcess;
using tools::testing::RunCommand;

std::string Slurp(const fs::path& path) {
  std::stringstream text;
  text << std::ifstream(path).rdbuf();
  return text.str();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && line.back() == ' ') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

// One "$ command" of a console block and the lines shown under it.
struct Step {
  std::string command;
  std::vector<std::string> expected;
};

std::vector<Step> ConsoleSteps(const std::string& markdown) {
  std::vector<Step> steps;
  bool in_console = false;
  for (const std::string& line : Lines(markdown)) {
    if (line.starts_with("```")) {
      in_console = !in_console && line == "```console";
      continue;
    }
    if (!in_console) continue;
    if (line.starts_with("$ ")) {
      steps.push_back({line.substr(2), {}});
    } else if (!steps.empty()) {
      steps.back().expected.push_back(line);
    }
  }
  return steps;
}

// `expected` with "..." inside it matching any text.
bool LineMatches(const std::string& expected, const std::string& actual) {
  size_t at = 0;
  size_t from = 0;
  bool first = true;
  for (;;) {
    size_t dots = expected.find("...", from);
    std::string piece = expected.substr(from, dots == std::string::npos ? dots : dots - from);
    if (dots == std::string::npos) {  // The last piece ends the line.
      return actual.size() >= at + piece.size() &&
             actual.compare(actual.size() - piece.size(), piece.size(), piece) == 0 &&
             (!first || actual == piece);
    }
    size_t found = actual.find(piece, at);
    if (found == std::string::npos || (first && found != 0)) return false;
    at = found + piece.size();
    from = dots + 3;
    first = false;
  }
}

// Empty if `actual` shows `expected`, else what is missing.
std::string Mismatch(const std::vector<std::string>& expected,
                     const std::vector<std::string>& actual) {
  size_t i = 0;
  bool skipping = false;
  for (const std::string& e : expected) {
    if (e == "...") {
      skipping = true;
      continue;
    }
    while (i < actual.size() && !LineMatches(e, actual[i]) && skipping) ++i;
    if (i >= actual.size() || !LineMatches(e, actual[i])) return "no line '" + e + "'";
    ++i;
    skipping = false;
  }
  return "";
}

TEST(GettingStartedTest, EveryCommandOnThePageDoesWhatThePageShows) {
  const fs::path source = TRELLIS_SOURCE_DIR;
  if (fs::path(TRELLIS_BINARY_DIR) != source / "build") {
    GTEST_SKIP() << "the page runs the regular build in build/, not " << TRELLIS_BINARY_DIR;
  }
  const std::string page = Slurp(source / "docs/getting-started.md");
  auto steps = ConsoleSteps(page);
  ASSERT_GE(steps.size(), 8u) << "console blocks not found";
  ASSERT_NE(page.find("scripts/run"), std::string::npos);

  std::string pattern = (fs::temp_directory_path() / "trellis-gs-XXXXXX").string();
  ASSERT_NE(mkdtemp(pattern.data()), nullptr);
  const fs::path dir = pattern;
  ASSERT_EQ(setenv("TRELLIS_RUNTIME_DIR", dir.c_str(), 1), 0);
  const fs::path log = dir / "run.err";
  auto run = ChildProcess::Spawn(
      {"/bin/sh", "-c", "cd " + source.string() + " && exec scripts/run 2>" + log.string()});
  ASSERT_TRUE(run.has_value()) << run.error().ToString();
  // scripts/run checks the packages and the build, then boots the board.
  bool ready = false;
  for (int i = 0; i < 3000 && !ready && run->TryRunning(); ++i) {
    ready = Slurp(log).find("trellis-manager: ready on unix:" + (dir / "manager.sock").string()) !=
            std::string::npos;
    if (!ready) usleep(100'000);
  }
  ASSERT_TRUE(ready) << Slurp(log);

  for (const Step& step : steps) {
    SCOPED_TRACE("$ " + step.command);
    auto result = RunCommand({"/bin/sh", "-c", "cd " + source.string() + " && " + step.command},
                             std::chrono::seconds(60));
    ASSERT_TRUE(result.has_value()) << result.error().ToString();
    std::string mismatch = Mismatch(step.expected, Lines(result->out + result->err));
    EXPECT_EQ(mismatch, "") << "it printed:\n" << result->out << result->err;
  }

  run->Signal(SIGINT);  // Ctrl-C.
  auto status = run->WaitForExit(std::chrono::seconds(30));
  ASSERT_TRUE(status.has_value()) << "still running after Ctrl-C";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << Slurp(log);
  EXPECT_NE(Slurp(log).find("trellis-manager: stopped"), std::string::npos);
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace
}  // namespace trellis::testing
