// Tests of the lease statistics, driver latency and lease tree text.
#include "tools/powerctl/stats_format.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tools/powerctl/power_json.h"

namespace trellis::powerctl {
namespace {

using ::testing::HasSubstr;

power::v1::WakeLeaseInfo Lease(uint64_t id, const std::string& name, uint64_t parent,
                               std::vector<std::string> chain = {}) {
  power::v1::WakeLeaseInfo lease;
  lease.set_lease_id(id);
  lease.set_name(name);
  lease.set_holder("client");
  lease.set_parent_lease_id(parent);
  for (auto& link : chain) lease.add_chain(link);
  return lease;
}

TEST(StatsFormatTest, TheTreePutsEachLeaseUnderItsParent) {
  google::protobuf::RepeatedPtrField<power::v1::WakeLeaseInfo> leases;
  *leases.Add() = Lease(1, "wake:alarm", 0);
  *leases.Add() = Lease(2, "rtc", 1, {"wake:alarm"});
  *leases.Add() = Lease(3, "backup", 2, {"wake:alarm", "rtc"});
  *leases.Add() = Lease(4, "sync", 1, {"wake:alarm"});
  *leases.Add() = Lease(7, "orphan", 5, {"irq", "input"});
  EXPECT_EQ(FormatLeaseTree(leases, Clock::now()),
            "1 'wake:alarm'  client  -\n"
            "├─ 2 'rtc'  client  -\n"
            "│  └─ 3 'backup'  client  -\n"
            "└─ 4 'sync'  client  -\n"
            "7 'orphan'  client  -  (from irq > input)\n");
  EXPECT_EQ(FormatLeaseTree({}, Clock::now()), "no wake lease is held\n");
}

TEST(StatsFormatTest, DriverRowsFlagMissedTargetsAndRegressions) {
  power::v1::SuspendStats stats;
  auto* d = stats.add_drivers();
  d->set_driver("gpt");
  d->set_node_path("root.sys.disk0.block");
  d->mutable_suspend()->set_count(5);
  d->mutable_suspend()->set_last_us(9000);
  d->mutable_suspend()->set_median_us(2000);
  d->mutable_suspend()->set_max_us(9000);
  d->mutable_suspend()->set_target_us(5000);
  d->mutable_suspend()->set_over_target(1);
  d->mutable_suspend()->set_regressed(true);
  std::string text = FormatDriverLatencies(stats);
  EXPECT_THAT(text, HasSubstr("NODE                  DRIVER  PHASE    COUNT  LAST  MEDIAN  MAX  "
                              "TARGET  OVER  FLAGS\n"));
  EXPECT_THAT(text, HasSubstr("root.sys.disk0.block  gpt     suspend  5      9ms   2ms     9ms  5ms  "
                              "   1     over target, regressed\n"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("resume"))) << "no resume callbacks yet";
  d->mutable_resume()->set_count(1);
  d->mutable_resume()->set_last_us(40);
  d->mutable_resume()->set_max_us(40);
  EXPECT_THAT(FormatDriverLatencies(stats), HasSubstr("resume   1      40us  -       40us"))
      << "no median from one callback";
  auto json = StatsToJson(stats);
  EXPECT_EQ(json["drivers"][0]["suspend"]["target_us"], 5000);
  EXPECT_EQ(json["drivers"][0]["suspend"]["regressed"], true);
  EXPECT_EQ(json["drivers"][0]["resume"]["target_us"], nullptr);
}

TEST(StatsFormatTest, LeaseNamesShowWhatTheyAreCharged) {
  power::v1::SuspendStats stats;
  auto* lease = stats.add_leases();
  lease->set_name("wake:alarm");
  lease->set_acquired(2);
  lease->mutable_held()->set_nanos(5'000'000);
  lease->mutable_charged()->set_seconds(3);
  EXPECT_EQ(FormatLeaseStats(stats),
            "NAME        ACQUIRED  HELD  MAX  CHARGED  REVOKED\n"
            "wake:alarm  2         5ms   0s   3s       0\n");
  EXPECT_EQ(FormatLeaseStats({}), "");
  EXPECT_EQ(StatsToJson(stats)["leases"][0]["charged"], 3.0);
}

}  // namespace
}  // namespace trellis::powerctl
