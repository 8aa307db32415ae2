#include "drivers/alarm/alarm_queue.h"

#include <gtest/gtest.h>

namespace trellis::drivers {
namespace {

using std::chrono::nanoseconds;

std::vector<uint64_t> Ids(const std::vector<AlarmQueue::Alarm>& alarms) {
  std::vector<uint64_t> ids;
  for (const auto& a : alarms) ids.push_back(a.id);
  return ids;
}

TEST(AlarmQueueTest, IdsArePositiveAndIncreasing) {
  AlarmQueue q;
  uint64_t a = q.Add(nanoseconds(50), false);
  uint64_t b = q.Add(nanoseconds(10), false);
  EXPECT_GT(a, 0u);
  EXPECT_GT(b, a);
  EXPECT_EQ(q.size(), 2u);
}

TEST(AlarmQueueTest, IdsAreNotReusedAfterCancelOrFire) {
  AlarmQueue q;
  uint64_t a = q.Add(nanoseconds(10), false);
  ASSERT_TRUE(q.Cancel(a));
  uint64_t b = q.Add(nanoseconds(10), false);
  ASSERT_EQ(q.PopDue(nanoseconds(10)).size(), 1u);
  uint64_t c = q.Add(nanoseconds(10), false);
  EXPECT_GT(b, a);
  EXPECT_GT(c, b);
}

TEST(AlarmQueueTest, EarliestIsTheSmallestDeadline) {
  AlarmQueue q;
  EXPECT_FALSE(q.Earliest().has_value());
  q.Add(nanoseconds(30), false);
  q.Add(nanoseconds(10), false);
  q.Add(nanoseconds(20), false);
  ASSERT_TRUE(q.Earliest().has_value());
  EXPECT_EQ(q.Earliest()->deadline, nanoseconds(10));
}

TEST(AlarmQueueTest, PopDueReturnsOnlyDueAlarmsInDeadlineOrder) {
  AlarmQueue q;
  uint64_t late = q.Add(nanoseconds(30), false);
  uint64_t early = q.Add(nanoseconds(10), false);
  uint64_t exact = q.Add(nanoseconds(20), false);
  EXPECT_TRUE(q.PopDue(nanoseconds(9)).empty());
  EXPECT_EQ(Ids(q.PopDue(nanoseconds(20))), (std::vector<uint64_t>{early, exact}));
  EXPECT_EQ(q.size(), 1u);
  EXPECT_EQ(q.Earliest()->deadline, nanoseconds(30));
  EXPECT_EQ(Ids(q.PopDue(nanoseconds(100))), (std::vector<uint64_t>{late}));
  EXPECT_TRUE(q.empty());
  EXPECT_FALSE(q.Earliest().has_value());
}

TEST(AlarmQueueTest, EqualDeadlinesPopInIdOrder) {
  AlarmQueue q;
  uint64_t a = q.Add(nanoseconds(5), false);
  uint64_t b = q.Add(nanoseconds(5), true);
  uint64_t c = q.Add(nanoseconds(5), false);
  auto due = q.PopDue(nanoseconds(5));
  EXPECT_EQ(Ids(due), (std::vector<uint64_t>{a, b, c}));
  EXPECT_FALSE(due[0].wake);
  EXPECT_TRUE(due[1].wake);
  EXPECT_EQ(due[1].deadline, nanoseconds(5));
}

TEST(AlarmQueueTest, CancelRemovesOnlyThatAlarm) {
  AlarmQueue q;
  uint64_t a = q.Add(nanoseconds(10), false);
  uint64_t b = q.Add(nanoseconds(20), false);
  EXPECT_TRUE(q.Cancel(a));
  EXPECT_FALSE(q.Cancel(a));
  EXPECT_FALSE(q.Cancel(12345));
  EXPECT_EQ(q.Earliest()->deadline, nanoseconds(20));
  EXPECT_EQ(Ids(q.PopDue(nanoseconds(100))), (std::vector<uint64_t>{b}));
}

TEST(AlarmQueueTest, CancelOfAFiredAlarmFails) {
  AlarmQueue q;
  uint64_t a = q.Add(nanoseconds(10), false);
  ASSERT_EQ(q.PopDue(nanoseconds(10)).size(), 1u);
  EXPECT_FALSE(q.Cancel(a));
}

TEST(AlarmQueueTest, AnyWakeTracksArmedWakeAlarms) {
  AlarmQueue q;
  EXPECT_FALSE(q.AnyWake());
  q.Add(nanoseconds(10), false);
  EXPECT_FALSE(q.AnyWake());
  uint64_t w1 = q.Add(nanoseconds(20), true);
  q.Add(nanoseconds(30), true);
  EXPECT_TRUE(q.AnyWake());
  EXPECT_TRUE(q.Cancel(w1));
  EXPECT_TRUE(q.AnyWake());
  q.PopDue(nanoseconds(30));
  EXPECT_FALSE(q.AnyWake());
}

TEST(AlarmQueueTest, EarliestWakeReflectsAlarmsDueAtTheEarliestDeadline) {
  AlarmQueue q;
  q.Add(nanoseconds(10), false);
  q.Add(nanoseconds(20), true);
  EXPECT_FALSE(q.Earliest()->wake) << "only a later alarm wakes";
  q.Add(nanoseconds(10), true);
  EXPECT_TRUE(q.Earliest()->wake) << "a wake alarm shares the earliest deadline";
  q.PopDue(nanoseconds(10));
  EXPECT_EQ(q.Earliest()->deadline, nanoseconds(20));
  EXPECT_TRUE(q.Earliest()->wake);
}

}  // namespace
}  // namespace trellis::drivers
