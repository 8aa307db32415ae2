// suspend and resume, in-process against a fake Power server: what is sent,
// what is printed, and the exit codes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "tools/powerctl/power_format.h"
#include "tools/powerctl/testing/powerctl_fixture.h"

namespace trellis::powerctl {
namespace {

using namespace std::chrono_literals;
using power::v1::SuspendResponse;
using testing::FakePowerConfig;
using testing::Outcome;
using testing::PowerctlTest;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

FakePowerConfig Resumes() {
  FakePowerConfig config;
  config.suspend.set_outcome(SuspendResponse::OUTCOME_RESUMED);
  *config.suspend.mutable_suspended_for() = ToProtoDuration(5002ms);
  config.suspend.set_wake_reason("alarm");
  config.suspend.set_wake_generation(43);
  return config;
}

TEST_F(PowerctlTest, SuspendSendsItsOptionsAndPrintsTheOutcome) {
  Serve(Resumes());
  Outcome outcome = Run({"suspend", "--wake-after", "1.5s", "--wait", "500ms",
                         "--expected-generation", "42"});
  EXPECT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_THAT(outcome.out, AllOf(HasSubstr("outcome:         resumed"),
                                 HasSubstr("suspended for:   5.002s"),
                                 HasSubstr("wake reason:     alarm")));
  auto requests = fake().suspend_requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(ToNanoseconds(requests[0].wake_after()), 1500ms);
  EXPECT_EQ(ToNanoseconds(requests[0].wait()), 500ms);
  ASSERT_TRUE(requests[0].has_expected_generation());
  EXPECT_EQ(requests[0].expected_generation(), 42u);
  EXPECT_FALSE(requests[0].trace());
}

TEST_F(PowerctlTest, SuspendLeavesUnsetOptionsUnset) {
  Serve(Resumes());
  ASSERT_EQ(Run({"suspend"}).exit_code, 0);
  auto requests = fake().suspend_requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_FALSE(requests[0].has_wake_after());
  EXPECT_FALSE(requests[0].has_wait());
  EXPECT_FALSE(requests[0].has_expected_generation());
}

TEST_F(PowerctlTest, SuspendHasNoDeadlineUnlessTimeoutIsGiven) {
  Serve(Resumes());
  ASSERT_EQ(Run({"suspend"}).exit_code, 0);
  ASSERT_EQ(Run({"--timeout", "30s", "suspend"}).exit_code, 0);
  auto deadlines = fake().suspend_deadlines();
  ASSERT_EQ(deadlines.size(), 2u);
  auto now = std::chrono::system_clock::now();
  EXPECT_GT(deadlines[0], now + std::chrono::hours(24 * 365));
  EXPECT_LT(deadlines[1], now + 31s);
  EXPECT_GT(deadlines[1], now + 20s);
}

TEST_F(PowerctlTest, SuspendShowsProgressOnATerminalAndClearsIt) {
  Serve(Resumes());
  Outcome outcome = Run({"suspend"}, /*err_is_tty=*/true);
  EXPECT_EQ(outcome.exit_code, 0);
  EXPECT_EQ(outcome.err, "suspending… (Ctrl-C leaves the system suspended)\r\033[K");
  EXPECT_THAT(Run({"suspend"}).err, IsEmpty());
}

TEST_F(PowerctlTest, FailedOrAbortedSuspendExitsOne) {
  FakePowerConfig config;
  config.suspend.set_outcome(SuspendResponse::OUTCOME_FAILED_SUSPEND);
  config.suspend.set_failed_driver("disk");
  config.suspend.set_error("suspend hook timed out");
  Serve(std::move(config));
  Outcome outcome = Run({"suspend"});
  EXPECT_EQ(outcome.exit_code, 1);
  EXPECT_THAT(outcome.out, AllOf(HasSubstr("outcome:         failed_suspend"),
                                 HasSubstr("failed driver:   disk"),
                                 HasSubstr("error:           suspend hook timed out")));
  nlohmann::json json = nlohmann::json::parse(Run({"suspend", "--json"}).out);
  EXPECT_EQ(json["outcome"], "failed_suspend");
  EXPECT_EQ(json["failed_driver"], "disk");
}

TEST_F(PowerctlTest, SuspendRpcErrorExitsTwoNamingTheCall) {
  FakePowerConfig config;
  config.suspend_status = grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "wake leases held: ota");
  Serve(std::move(config));
  Outcome outcome = Run({"suspend", "--wait", "1s"});
  EXPECT_EQ(outcome.exit_code, 2);
  EXPECT_EQ(outcome.err, "powerctl: Power.Suspend: wake leases held: ota\n");
  EXPECT_THAT(outcome.out, IsEmpty());

  Outcome json = Run({"--json", "suspend"});
  EXPECT_EQ(json.exit_code, 2);
  nlohmann::json error = nlohmann::json::parse(json.out);
  EXPECT_EQ(error["error"]["code"], "DEADLINE_EXCEEDED");
  EXPECT_EQ(error["error"]["message"], "Power.Suspend: wake leases held: ota");
}

TEST_F(PowerctlTest, SuspendTraceWritesAChromeTrace) {
  FakePowerConfig config = Resumes();
  auto* timing = config.suspend.add_timings();
  timing->set_driver("disk");
  timing->set_node_path("root.sys.disk0");
  timing->set_host("host-1");
  timing->set_phase(power::v1::CallbackTiming::PHASE_SUSPEND);
  timing->set_start_us(100);
  timing->set_duration_us(2500);
  timing->set_status("ok");
  Serve(std::move(config));
  std::string path = TempPath("suspend.json");
  Outcome outcome = Run({"suspend", "--trace", path});
  EXPECT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_THAT(outcome.out, HasSubstr("trace:           " + path + " (1 callbacks)"));
  ASSERT_TRUE(fake().suspend_requests().at(0).trace());
  std::ifstream file(path);
  nlohmann::json trace = nlohmann::json::parse(file);
  bool found = false;
  for (const auto& event : trace["traceEvents"]) {
    if (event["ph"] != "X") continue;
    found = true;
    EXPECT_EQ(event["name"], "disk suspend");
    EXPECT_EQ(event["dur"], 2500);
  }
  EXPECT_TRUE(found) << trace;
}

TEST_F(PowerctlTest, UnwritableTraceFileFailsBeforeSuspending) {
  Serve(Resumes());
  Outcome outcome = Run({"suspend", "--trace", "/nonexistent-dir/trace.json"});
  EXPECT_EQ(outcome.exit_code, 2);
  EXPECT_THAT(outcome.err, HasSubstr("cannot write trace /nonexistent-dir/trace.json"));
  EXPECT_TRUE(fake().suspend_requests().empty());
}

TEST_F(PowerctlTest, ResumeSendsTheReason) {
  Serve();
  Outcome outcome = Run({"resume", "--reason", "user pressed a key"});
  EXPECT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_EQ(outcome.out, "resume requested\n");
  EXPECT_EQ(fake().resume_reasons(), std::vector<std::string>{"user pressed a key"});
  EXPECT_EQ(Run({"resume", "--json"}).out, "{}\n");
}

TEST_F(PowerctlTest, ResumeErrorNamesTheCall) {
  FakePowerConfig config;
  config.resume_status = grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "uid 1000 may not resume");
  Serve(std::move(config));
  Outcome outcome = Run({"resume"});
  EXPECT_EQ(outcome.exit_code, 2);
  EXPECT_EQ(outcome.err, "powerctl: Power.Resume: uid 1000 may not resume\n");
}

TEST_F(PowerctlTest, SuspendTestSendsThePhaseAndATestedOutcomeExitsZero) {
  FakePowerConfig config;
  config.suspend.set_outcome(SuspendResponse::OUTCOME_TESTED);
  config.suspend.set_wake_reason("test: drivers");
  Serve(config);
  Outcome outcome = Run({"suspend", "--test", "drivers"});
  EXPECT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_THAT(outcome.out, HasSubstr("outcome:         tested"));
  ASSERT_EQ(Run({"suspend", "--test", "hal"}).exit_code, 0);
  auto requests = fake().suspend_requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].test(), power::v1::SuspendRequest::TEST_MODE_DRIVERS);
  EXPECT_EQ(requests[1].test(), power::v1::SuspendRequest::TEST_MODE_HAL);

  outcome = Run({"suspend", "--test", "sleep"});
  EXPECT_EQ(outcome.exit_code, 2);
  EXPECT_THAT(outcome.err, HasSubstr("--test"));
  EXPECT_EQ(fake().suspend_requests().size(), 2u) << "nothing sent for a bad phase";
}

}  // namespace
}  // namespace trellis::powerctl
