// PowerctlTest: a fixture that runs powerctl in-process against a
// FakePowerServer and captures what it printed and its exit code.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tools/powerctl/testing/fake_power_service.h"

namespace trellis::powerctl::testing {

// How one powerctl run ended.
struct Outcome {
  int exit_code = -1;
  std::string out;
  std::string err;
};

class PowerctlTest : public ::testing::Test {
 protected:
  // Starts the fake server the next Run talks to.
  void Serve(FakePowerConfig config = {});

  // Runs powerctl --endpoint <fake> ARGS (an endpoint where nothing listens
  // if Serve was not called). `err_is_tty` pretends stderr is a terminal.
  Outcome Run(std::vector<std::string> args, bool err_is_tty = false);
  // Runs powerctl ARGS as given.
  static Outcome RunRaw(std::vector<std::string> args, bool err_is_tty = false);

  FakePowerService& fake() { return server_->service(); }
  // A path in a directory of this test's own, removed afterwards.
  std::string TempPath(const std::string& name);

  void TearDown() override;

  std::unique_ptr<FakePowerServer> server_;

 private:
  std::string dir_;
};

// Polls `done` every 10 ms for up to 5 s; returns its last value.
template <typename Predicate>
bool Eventually(Predicate done) {
  for (int i = 0; i < 500; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

}  // namespace trellis::powerctl::testing
