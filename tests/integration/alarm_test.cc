// The typed Alarm protocol (trellis.alarm.v1.Alarm) through a real manager,
// host and alarm driver: Set, Cancel and Watch, and their errors.
#include <gmock/gmock.h>

#include "tests/integration/testing/power_fixture.h"
#include "trellis/alarm/v1/alarm.grpc.pb.h"

namespace trellis::testing {
namespace {

using alarm::v1::AlarmFired;

class AlarmTest : public ManagerFixture {
 protected:
  void SetUp() override {
    StartManager(Board(AlarmNode()), {{"alarm.json", AlarmManifest()}});
    ASSERT_TRUE(WaitForNodeState("root.sys.alarm", node::v1::NODE_STATE_BOUND));
    grpc::ClientContext context;
    manager::v1::BindRequest request;
    request.set_node_path("root.sys.alarm");
    request.set_protocol("trellis.alarm.v1.Alarm");
    manager::v1::BindResponse response;
    grpc::Status status = stub().Bind(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    token_ = response.token();
    alarm_ = alarm::v1::Alarm::NewStub(
        grpc::CreateChannel(response.endpoint(), grpc::InsecureChannelCredentials()));
  }

  grpc::Status Set(int64_t after_ms, bool wake, uint64_t* id) {
    alarm::v1::SetAlarmRequest request;
    request.mutable_after()->set_seconds(after_ms / 1000);
    request.mutable_after()->set_nanos(static_cast<int32_t>(after_ms % 1000 * 1'000'000));
    request.set_wake(wake);
    alarm::v1::SetAlarmResponse response;
    grpc::Status status = alarm_->Set(WithToken(token_).get(), request, &response);
    *id = response.alarm_id();
    return status;
  }

  grpc::Status Cancel(uint64_t id) {
    alarm::v1::CancelAlarmRequest request;
    request.set_alarm_id(id);
    alarm::v1::CancelAlarmResponse response;
    return alarm_->Cancel(WithToken(token_).get(), request, &response);
  }

  std::string token_;
  std::unique_ptr<alarm::v1::Alarm::Stub> alarm_;
};

TEST_F(AlarmTest, WatchSeesTheAlarmsThatFireAndNotTheCancelledOne) {
  auto context = WithToken(token_, std::chrono::seconds(20));
  auto watch = alarm_->Watch(context.get(), {});
  // The driver has the watch once the initial metadata arrives; alarms set
  // after that are seen.
  watch->WaitForInitialMetadata();
  uint64_t cancelled = 0, first = 0, second = 0;
  ASSERT_TRUE(Set(10'000, false, &cancelled).ok());
  ASSERT_TRUE(Set(20, false, &first).ok());
  ASSERT_TRUE(Set(40, true, &second).ok());
  EXPECT_LT(first, second);
  ASSERT_TRUE(Cancel(cancelled).ok());
  AlarmFired fired;
  ASSERT_TRUE(watch->Read(&fired));
  EXPECT_EQ(fired.alarm_id(), first);
  EXPECT_GT(fired.fired_at().seconds(), 0);
  ASSERT_TRUE(watch->Read(&fired));
  EXPECT_EQ(fired.alarm_id(), second);
  context->TryCancel();
}

TEST_F(AlarmTest, WatchCanAskForSomeAlarmsOnly) {
  // Ids increase by one per alarm: learn the next one, then watch for it.
  uint64_t probe = 0;
  ASSERT_TRUE(Set(60'000, false, &probe).ok());
  ASSERT_TRUE(Cancel(probe).ok());
  alarm::v1::WatchAlarmsRequest request;
  request.add_alarm_ids(probe + 1);
  auto context = WithToken(token_, std::chrono::seconds(20));
  auto watch = alarm_->Watch(context.get(), request);
  watch->WaitForInitialMetadata();
  uint64_t wanted = 0, ignored = 0;
  ASSERT_TRUE(Set(30, false, &wanted).ok());
  ASSERT_TRUE(Set(5, false, &ignored).ok());  // Fires first, but is not asked for.
  ASSERT_EQ(wanted, probe + 1);
  AlarmFired fired;
  ASSERT_TRUE(watch->Read(&fired));
  EXPECT_EQ(fired.alarm_id(), wanted);
  context->TryCancel();
}

TEST_F(AlarmTest, BadRequestsGetTheRightStatus) {
  uint64_t id = 0;
  EXPECT_EQ(Set(-5, false, &id).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  alarm::v1::SetAlarmRequest far;
  far.mutable_after()->set_seconds(int64_t{20} * 366 * 24 * 3600);
  alarm::v1::SetAlarmResponse response;
  EXPECT_EQ(alarm_->Set(WithToken(token_).get(), far, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Cancel(12345).error_code(), grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(Set(60'000, false, &id).ok());
  ASSERT_TRUE(Cancel(id).ok());
  EXPECT_EQ(Cancel(id).error_code(), grpc::StatusCode::NOT_FOUND);
  alarm::v1::CancelAlarmResponse cancelled;
  alarm::v1::CancelAlarmRequest cancel;
  EXPECT_EQ(alarm_->Cancel(WithToken("bogus").get(), cancel, &cancelled).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

}  // namespace
}  // namespace trellis::testing
