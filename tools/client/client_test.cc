// Tests of the parts of trellis_client that need no running manager.
#include "tools/client/client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <optional>
#include <string>

namespace trellis::client {
namespace {

using ::testing::HasSubstr;

// Sets (or unsets, for nullopt) an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = getenv(name)) old_ = old;
    if (value) {
      setenv(name, value->c_str(), 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(DefaultManagerEndpointTest, PrefersTrellisRuntimeDir) {
  ScopedEnv runtime("TRELLIS_RUNTIME_DIR", "/run/t");
  ScopedEnv xdg("XDG_RUNTIME_DIR", "/run/user/7");
  EXPECT_EQ(DefaultManagerEndpoint().value(), "unix:/run/t/manager.sock");
}

TEST(DefaultManagerEndpointTest, FallsBackToXdgRuntimeDir) {
  ScopedEnv runtime("TRELLIS_RUNTIME_DIR", std::nullopt);
  ScopedEnv xdg("XDG_RUNTIME_DIR", "/run/user/7");
  EXPECT_EQ(DefaultManagerEndpoint().value(), "unix:/run/user/7/trellis/manager.sock");
}

TEST(DefaultManagerEndpointTest, FallsBackToTmpPerUid) {
  ScopedEnv runtime("TRELLIS_RUNTIME_DIR", "");
  ScopedEnv xdg("XDG_RUNTIME_DIR", std::nullopt);
  EXPECT_EQ(DefaultManagerEndpoint().value(),
            "unix:/tmp/trellis-" + std::to_string(getuid()) + "/manager.sock");
}

TEST(ManagerClientTest, ConnectToMissingSocketFailsFastAsUnavailable) {
  auto start = std::chrono::steady_clock::now();
  auto client = ManagerClient::Connect("unix:/nonexistent/trellis/manager.sock");
  ASSERT_FALSE(client.has_value());
  EXPECT_EQ(client.error().code(), ErrorCode::kUnavailable);
  EXPECT_THAT(client.error().message(),
              HasSubstr("cannot reach trellis-manager at unix:/nonexistent/trellis/manager.sock"));
  EXPECT_THAT(client.error().message(), HasSubstr("is it running?"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

TEST(ManagerClientTest, ConnectToNonSocketFailsAsUnavailable) {
  auto client = ManagerClient::Connect("unix:/etc/passwd");
  ASSERT_FALSE(client.has_value());
  EXPECT_EQ(client.error().code(), ErrorCode::kUnavailable);
  EXPECT_THAT(client.error().message(), HasSubstr("is not a socket"));
}

}  // namespace
}  // namespace trellis::client
