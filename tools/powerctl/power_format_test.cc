// Tests of powerctl's human and JSON output on hand-built Power replies.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <time.h>

#include <optional>
#include <string>

#include "tools/powerctl/power_format.h"
#include "tools/powerctl/power_json.h"

namespace trellis::powerctl {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using power::v1::SuspendResponse;

// 2024-05-01 12:00:00 UTC.
constexpr int64_t kNoon = 1714564800;

// Runs the test with local time = UTC, so times print predictably.
class PowerFormatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const char* tz = getenv("TZ")) old_tz_ = tz;
    setenv("TZ", "UTC", 1);
    tzset();
  }
  void TearDown() override {
    if (old_tz_) {
      setenv("TZ", old_tz_->c_str(), 1);
    } else {
      unsetenv("TZ");
    }
    tzset();
  }

  static google::protobuf::Timestamp At(int64_t seconds, int32_t nanos = 0) {
    google::protobuf::Timestamp time;
    time.set_seconds(seconds);
    time.set_nanos(nanos);
    return time;
  }
  static Clock::time_point Now(int64_t seconds) { return Clock::time_point(std::chrono::seconds(seconds)); }

  static power::v1::WakeLeaseInfo Lease(uint64_t id, std::string name, std::string holder,
                                        uint32_t pid, int64_t since) {
    power::v1::WakeLeaseInfo lease;
    lease.set_lease_id(id);
    lease.set_name(std::move(name));
    lease.set_holder(std::move(holder));
    lease.set_pid(pid);
    lease.set_uid(1000);
    *lease.mutable_since() = At(since);
    return lease;
  }

 private:
  std::optional<std::string> old_tz_;
};

TEST_F(PowerFormatTest, NamesEnumValuesIncludingUnknownOnes) {
  EXPECT_EQ(SystemStateName(power::v1::SYSTEM_STATE_SUSPENDING), "suspending");
  EXPECT_EQ(SystemStateName(static_cast<power::v1::SystemState>(42)), "unknown");
  EXPECT_EQ(OutcomeName(SuspendResponse::OUTCOME_ABORTED_BY_LEASE), "aborted_by_lease");
  EXPECT_EQ(OutcomeName(SuspendResponse::OUTCOME_UNSPECIFIED), "unspecified");
  EXPECT_EQ(PhaseName(power::v1::CallbackTiming::PHASE_RESUME), "resume");
}

TEST_F(PowerFormatTest, DurationTextPicksTheUnitTheCommandLineAccepts) {
  EXPECT_EQ(DurationText(0ns), "0s");
  EXPECT_EQ(DurationText(500ns), "500ns");
  EXPECT_EQ(DurationText(750us), "750us");
  EXPECT_EQ(DurationText(250ms), "250ms");
  EXPECT_EQ(DurationText(1500ms), "1.5s");
  EXPECT_EQ(DurationText(5002ms), "5.002s");
  EXPECT_EQ(DurationText(5s), "5s");
  EXPECT_EQ(DurationText(90s), "1m30s");
  EXPECT_EQ(DurationText(2h + 5s), "2h0m5s");
  EXPECT_EQ(DurationText(-250ms), "-250ms");
}

TEST_F(PowerFormatTest, ProtoDurationsRoundTrip) {
  auto proto = ToProtoDuration(1500ms);
  EXPECT_EQ(proto.seconds(), 1);
  EXPECT_EQ(proto.nanos(), 500000000);
  EXPECT_EQ(ToNanoseconds(proto), 1500ms);
}

TEST_F(PowerFormatTest, TimesAreLocalAndAgesWholeSeconds) {
  EXPECT_EQ(TimeText(At(kNoon + 3, 123456789)), "2024-05-01 12:00:03");
  EXPECT_EQ(TimeText(At(kNoon + 3, 123456789), true), "2024-05-01 12:00:03.123");
  EXPECT_EQ(TimeText(At(0)), "-");
  EXPECT_EQ(AgeText(At(kNoon, 900000000), Now(kNoon + 182)), "3m1s ago");
  EXPECT_EQ(AgeText(At(kNoon + 10), Now(kNoon)), "0s ago");
  EXPECT_EQ(AgeText(At(0), Now(kNoon)), "-");
}

TEST_F(PowerFormatTest, StatusShowsStateSinceGenerationAndLeaseTable) {
  power::v1::StatusResponse status;
  status.set_state(power::v1::SYSTEM_STATE_RUNNING);
  status.set_wake_generation(42);
  *status.mutable_since() = At(kNoon);
  *status.add_leases() = Lease(3, "ota-update", "client", 4242, kNoon + 60);
  *status.add_leases() = Lease(4, "rtc-alarm", "root.sys.rtc0", 0, kNoon + 170);
  EXPECT_EQ(FormatStatus(status, Now(kNoon + 180)),
            "state:           running\n"
            "since:           2024-05-01 12:00:00 (3m0s ago)\n"
            "wake generation: 42\n"
            "leases:          2 held\n"
            "\n"
            "ID  NAME        HOLDER         PID   UID   SINCE\n"
            "3   ota-update  client         4242  1000  2m0s ago\n"
            "4   rtc-alarm   root.sys.rtc0  -     1000  10s ago\n");
}

TEST_F(PowerFormatTest, StatusWithoutLeasesSaysNone) {
  power::v1::StatusResponse status;
  status.set_state(power::v1::SYSTEM_STATE_SUSPENDED);
  EXPECT_EQ(FormatStatus(status, Now(kNoon)),
            "state:           suspended\n"
            "since:           -\n"
            "wake generation: 0\n"
            "leases:          none\n");
}

TEST_F(PowerFormatTest, ResumedSuspendShowsDurationAndWakeCause) {
  SuspendResponse response;
  response.set_outcome(SuspendResponse::OUTCOME_RESUMED);
  *response.mutable_suspended_for() = ToProtoDuration(5002ms);
  response.set_wake_reason("irq 42");
  response.set_wake_driver("rtc");
  response.set_wake_node_path("root.sys.rtc0");
  response.set_wake_generation(43);
  *response.mutable_wake_latency() = ToProtoDuration(750us);
  response.add_timings();
  EXPECT_EQ(FormatSuspendResult(response, "/tmp/t.json"),
            "outcome:         resumed\n"
            "suspended for:   5.002s\n"
            "wake reason:     irq 42\n"
            "wake driver:     rtc (root.sys.rtc0)\n"
            "wake latency:    750us\n"
            "wake generation: 43\n"
            "trace:           /tmp/t.json (1 callbacks)\n");
}

TEST_F(PowerFormatTest, FailedSuspendShowsDriverAndErrorButNoDuration) {
  SuspendResponse response;
  response.set_outcome(SuspendResponse::OUTCOME_FAILED_SUSPEND);
  response.set_failed_driver("disk");
  response.set_error("DEADLINE_EXCEEDED: suspend hook timed out after 5s");
  response.set_wake_generation(7);
  EXPECT_EQ(FormatSuspendResult(response),
            "outcome:         failed_suspend\n"
            "failed driver:   disk\n"
            "error:           DEADLINE_EXCEEDED: suspend hook timed out after 5s\n"
            "wake generation: 7\n");
}

TEST_F(PowerFormatTest, StatsReadLikeSuspendStats) {
  power::v1::SuspendStats stats;
  stats.set_success(3);
  stats.set_fail(1);
  stats.set_failed_suspend(1);
  stats.set_aborted_by_lease(2);
  stats.set_last_failed_driver("disk");
  *stats.mutable_total_suspended() = ToProtoDuration(3723s);
  EXPECT_EQ(FormatStats(stats),
            "success:          3\n"
            "fail:             1\n"
            "failed_suspend:   1\n"
            "failed_resume:    0\n"
            "aborted_by_lease: 2\n"
            "aborted_by_wake:  0\n"
            "total_suspended:  1h2m3s\n"
            "revoked_leases:   0\n"
            "expired_handoffs: 0\n"
            "failures:\n"
            "  last_failed_driver: disk\n"
            "  last_failed_error:  -\n");
}

TEST_F(PowerFormatTest, EventLinesAlignDetails) {
  power::v1::PowerEvent event;
  *event.mutable_time() = At(kNoon, 250000000);
  event.set_state(power::v1::SYSTEM_STATE_RUNNING);
  event.set_detail("wake: irq 42");
  EXPECT_EQ(FormatEvent(event), "2024-05-01 12:00:00.250  running     wake: irq 42\n");
  event.clear_detail();
  EXPECT_EQ(FormatEvent(event), "2024-05-01 12:00:00.250  running\n");
}

TEST_F(PowerFormatTest, StatusJsonUsesRfc3339AndNullForUnknownPid) {
  power::v1::StatusResponse status;
  status.set_state(power::v1::SYSTEM_STATE_RUNNING);
  status.set_wake_generation(42);
  *status.mutable_since() = At(kNoon, 250000000);
  *status.add_leases() = Lease(4, "rtc-alarm", "root.sys.rtc0", 0, kNoon);
  Json json = StatusToJson(status);
  EXPECT_EQ(json["state"], "running");
  EXPECT_EQ(json["since"], "2024-05-01T12:00:00.250Z");
  EXPECT_EQ(json["wake_generation"], 42);
  ASSERT_EQ(json["leases"].size(), 1u);
  EXPECT_EQ(json["leases"][0]["id"], 4);
  EXPECT_EQ(json["leases"][0]["holder"], "root.sys.rtc0");
  EXPECT_TRUE(json["leases"][0]["pid"].is_null());
  EXPECT_EQ(json["leases"][0]["since"], "2024-05-01T12:00:00Z");
}

TEST_F(PowerFormatTest, SuspendJsonHasSecondsNullsAndTimings) {
  SuspendResponse response;
  response.set_outcome(SuspendResponse::OUTCOME_ABORTED_BY_WAKE);
  *response.mutable_suspended_for() = ToProtoDuration(1500ms);
  response.set_error("wake vector from rtc");
  auto* timing = response.add_timings();
  timing->set_driver("disk");
  timing->set_node_path("root.sys.disk0");
  timing->set_phase(power::v1::CallbackTiming::PHASE_SUSPEND);
  timing->set_start_us(10);
  timing->set_duration_us(20);
  timing->set_status("ok");
  Json json = SuspendResultToJson(response);
  EXPECT_EQ(json["outcome"], "aborted_by_wake");
  EXPECT_DOUBLE_EQ(json["suspended_for"].get<double>(), 1.5);
  EXPECT_TRUE(json["wake_reason"].is_null());
  EXPECT_EQ(json["error"], "wake vector from rtc");
  ASSERT_EQ(json["timings"].size(), 1u);
  EXPECT_EQ(json["timings"][0]["node"], "root.sys.disk0");
  EXPECT_EQ(json["timings"][0]["phase"], "suspend");
  EXPECT_TRUE(json["timings"][0]["host"].is_null());
}

TEST_F(PowerFormatTest, StatsAndEventJson) {
  power::v1::SuspendStats stats;
  stats.set_success(3);
  *stats.mutable_total_suspended() = ToProtoDuration(2s);
  Json json = StatsToJson(stats);
  EXPECT_EQ(json["success"], 3);
  EXPECT_DOUBLE_EQ(json["total_suspended"].get<double>(), 2.0);
  EXPECT_TRUE(json["last_failed_driver"].is_null());

  power::v1::PowerEvent event;
  event.set_state(power::v1::SYSTEM_STATE_RESUMING);
  event.set_detail("alarm");
  EXPECT_EQ(DumpJson(EventToJson(event), false),
            R"({"time":null,"state":"resuming","detail":"alarm"})");
}

TEST_F(PowerFormatTest, ErrorJsonNamesTheCode) {
  Error error(ErrorCode::kFailedPrecondition, "Power.Suspend: wake generation moved");
  EXPECT_EQ(DumpJson(ErrorToJson(error), false),
            R"({"error":{"code":"FAILED_PRECONDITION","message":"Power.Suspend: wake generation moved"}})");
}

TEST_F(PowerFormatTest, DumpJsonReplacesInvalidUtf8) {
  power::v1::WakeLeaseInfo lease = Lease(1, "bad\xff", "client", 1, kNoon);
  EXPECT_THAT(DumpJson(LeaseToJson(lease), false), HasSubstr("bad\xef\xbf\xbd"));
}

}  // namespace
}  // namespace trellis::powerctl
