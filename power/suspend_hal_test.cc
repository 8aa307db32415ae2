#include "power/suspend_hal.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <future>
#include <sstream>

namespace trellis::power {
namespace {

TEST(SuspendHalTest, SysfsWritesMemToTheStateFile) {
  char dir[] = "/tmp/trellis-hal-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string path = std::string(dir) + "/state";
  std::ofstream(path).close();
  auto hal = MakeHalFromSpec("linux-sysfs:" + path);
  ASSERT_TRUE(hal.has_value());
  EXPECT_EQ((*hal)->name(), "linux-sysfs:" + path);
  std::promise<Result<std::string>> woke;
  (*hal)->Enter([&](Result<std::string> r) { woke.set_value(std::move(r)); });
  auto result = woke.get_future().get();
  ASSERT_TRUE(result.has_value()) << result.error().ToString();
  std::stringstream text;
  text << std::ifstream(path).rdbuf();
  EXPECT_EQ(text.str(), "mem\n");
  hal->reset();
  unlink(path.c_str());
  rmdir(dir);
}

TEST(SuspendHalTest, SysfsReportsAMissingStateFile) {
  auto hal = MakeSysfsHal("/nonexistent/trellis/state");
  ASSERT_TRUE(hal.has_value());
  std::promise<Result<std::string>> woke;
  (*hal)->Enter([&](Result<std::string> r) { woke.set_value(std::move(r)); });
  auto result = woke.get_future().get();
  ASSERT_FALSE(result.has_value());
  EXPECT_NE(result.error().message().find("/nonexistent/trellis/state"), std::string::npos);
}

TEST(SuspendHalTest, SpecErrorsNameTheValue) {
  auto hal = MakeHalFromSpec("s2idle");
  ASSERT_FALSE(hal.has_value());
  EXPECT_EQ(hal.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(hal.error().message().find("'s2idle'"), std::string::npos);
  EXPECT_EQ(MakeHalFromSpec("simulated").value()->name(), "simulated");
}

}  // namespace
}  // namespace trellis::power
