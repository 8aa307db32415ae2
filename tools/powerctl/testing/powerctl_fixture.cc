// PowerctlTest.
#include "tools/powerctl/testing/powerctl_fixture.h"

#include <stdlib.h>

#include <filesystem>
#include <sstream>

#include "tools/powerctl/app.h"

namespace trellis::powerctl::testing {

void PowerctlTest::Serve(FakePowerConfig config) {
  auto server = FakePowerServer::Start(std::move(config));
  ASSERT_TRUE(server.has_value()) << server.error().ToString();
  server_ = std::move(*server);
}

Outcome PowerctlTest::Run(std::vector<std::string> args, bool err_is_tty) {
  args.insert(args.begin(), {"--endpoint", server_ ? server_->endpoint() : "unix:/nonexistent"});
  return RunRaw(std::move(args), err_is_tty);
}

Outcome PowerctlTest::RunRaw(std::vector<std::string> args, bool err_is_tty) {
  std::ostringstream out;
  std::ostringstream err;
  Outcome outcome;
  outcome.exit_code =
      RunPowerctl(std::move(args), Io{.out = out, .err = err, .err_is_tty = err_is_tty});
  outcome.out = out.str();
  outcome.err = err.str();
  return outcome;
}

std::string PowerctlTest::TempPath(const std::string& name) {
  if (dir_.empty()) {
    char dir[] = "/tmp/powerctl-test-files-XXXXXX";
    EXPECT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
  }
  return dir_ + "/" + name;
}

void PowerctlTest::TearDown() {
  server_.reset();
  std::error_code ignored;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
}

}  // namespace trellis::powerctl::testing
