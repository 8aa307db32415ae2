#include "virtio/initialize.h"

#include <gtest/gtest.h>

#include <optional>
#include <vector>

namespace trellis::virtio {
namespace {

constexpr uint64_t kVersion1 = kFeatureBit(VIRTIO_F_VERSION_1);
constexpr uint64_t kEventIdx = kFeatureBit(VIRTIO_F_RING_EVENT_IDX);
constexpr uint64_t kIndirect = kFeatureBit(VIRTIO_F_INDIRECT_DESC);
constexpr uint64_t kAccessPlatform = kFeatureBit(VIRTIO_F_ACCESS_PLATFORM);

// A transport that records every status write; knobs make it misbehave.
class RecordingTransport : public VirtioTransport {
 public:
  DeviceType device_type() const override { return type; }
  Result<void> Reset() override {
    if (fail_reset) return Fail(ErrorCode::kUnavailable, "socket closed");
    status = 0;
    writes.push_back(0);
    return Ok();
  }
  Result<uint8_t> ReadStatus() override {
    if (reject_features_ok) return static_cast<uint8_t>(status & ~VIRTIO_STATUS_FEATURES_OK);
    return status;
  }
  Result<void> WriteStatus(uint8_t s) override {
    writes.push_back(s);
    status = s;
    return Ok();
  }
  Result<uint64_t> ReadDeviceFeatures() override { return offered; }
  Result<void> WriteDriverFeatures(uint64_t f) override {
    accepted = f;
    return Ok();
  }

  DeviceType type = DeviceType::kRng;
  uint64_t offered = kVersion1 | kEventIdx | kIndirect | kAccessPlatform | 0b101;
  bool fail_reset = false;
  bool reject_features_ok = false;
  uint8_t status = 0xff;
  std::optional<uint64_t> accepted;
  std::vector<uint8_t> writes;
};

class TestDriver : public VirtioDeviceDriver {
 public:
  std::optional<uint64_t> NegotiateFeatures(uint64_t offered) const override {
    seen_offered = offered;
    return accept;
  }
  DeviceType device_type() const override { return DeviceType::kRng; }
  Result<void> PreDeviceInitialization() override {
    ++pre_calls;
    return pre_result;
  }
  Result<void> DeviceInitialized() override {
    ++initialized_calls;
    return initialized_result;
  }

  std::optional<uint64_t> accept = 0b001;
  mutable uint64_t seen_offered = 0;
  Result<void> pre_result = Ok();
  Result<void> initialized_result = Ok();
  int pre_calls = 0;
  int initialized_calls = 0;
};

constexpr uint8_t A = VIRTIO_STATUS_ACKNOWLEDGE;
constexpr uint8_t D = VIRTIO_STATUS_DRIVER;
constexpr uint8_t F = VIRTIO_STATUS_FEATURES_OK;
constexpr uint8_t OK = VIRTIO_STATUS_DRIVER_OK;
constexpr uint8_t FAILED = VIRTIO_STATUS_FAILED;

TEST(InitializeDeviceTest, WalksTheStatusSequenceAndNegotiatesFeatures) {
  RecordingTransport transport;
  TestDriver driver;
  auto features = InitializeDevice(transport, driver);
  ASSERT_TRUE(features.has_value()) << features.error().ToString();
  EXPECT_EQ(transport.writes, (std::vector<uint8_t>{0, A, A | D, A | D | F, A | D | F | OK}));
  // The driver saw only device-type bits; the framework took its transport
  // bits and left ACCESS_PLATFORM alone.
  EXPECT_EQ(driver.seen_offered, 0b101u);
  EXPECT_EQ(*features, kVersion1 | kEventIdx | kIndirect | 0b001);
  EXPECT_EQ(transport.accepted, *features);
  EXPECT_EQ(driver.pre_calls, 1);
  EXPECT_EQ(driver.initialized_calls, 1);
}

TEST(InitializeDeviceTest, TransportFeaturesCanBeRestricted) {
  RecordingTransport transport;
  TestDriver driver;
  auto features = InitializeDevice(transport, driver, kVersion1);
  ASSERT_TRUE(features.has_value());
  EXPECT_EQ(*features, kVersion1 | 0b001);
}

TEST(InitializeDeviceTest, RequiresVersion1) {
  RecordingTransport transport;
  transport.offered = kEventIdx | 1;
  TestDriver driver;
  auto r = InitializeDevice(transport, driver);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(r.error().message().find("virtio-rng"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("VERSION_1"), std::string::npos);
  EXPECT_EQ(transport.writes.back(), A | D | FAILED);
  EXPECT_EQ(driver.pre_calls, 0);
}

TEST(InitializeDeviceTest, DriverRejectingFeaturesSetsFailed) {
  RecordingTransport transport;
  TestDriver driver;
  driver.accept = std::nullopt;
  auto r = InitializeDevice(transport, driver);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(r.error().message().find("rejected"), std::string::npos);
  EXPECT_EQ(transport.writes.back(), A | D | FAILED);
  EXPECT_FALSE(transport.accepted.has_value());
}

TEST(InitializeDeviceTest, DriverAcceptingUnofferedBitsIsAnError) {
  RecordingTransport transport;
  TestDriver driver;
  driver.accept = 0b010;
  auto r = InitializeDevice(transport, driver);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kInternal);
  EXPECT_EQ(transport.writes.back(), A | D | FAILED);
}

TEST(InitializeDeviceTest, FeaturesOkThatDoesNotStickSetsFailed) {
  RecordingTransport transport;
  transport.reject_features_ok = true;
  TestDriver driver;
  auto r = InitializeDevice(transport, driver);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(r.error().message().find("did not accept features"), std::string::npos)
      << r.error().message();
  EXPECT_EQ(transport.writes.back() & FAILED, FAILED);
  EXPECT_EQ(transport.writes.back() & OK, 0);
  EXPECT_EQ(driver.pre_calls, 0);
}

TEST(InitializeDeviceTest, PreDeviceInitializationErrorSetsFailed) {
  RecordingTransport transport;
  TestDriver driver;
  driver.pre_result = Fail(ErrorCode::kInternal, "no config");
  auto r = InitializeDevice(transport, driver);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kInternal);
  EXPECT_NE(r.error().message().find("no config"), std::string::npos);
  EXPECT_EQ(transport.writes.back(), A | D | F | FAILED);
  EXPECT_EQ(driver.initialized_calls, 0);
}

TEST(InitializeDeviceTest, DeviceInitializedErrorIsReturnedWithoutFailed) {
  RecordingTransport transport;
  TestDriver driver;
  driver.initialized_result = Fail(ErrorCode::kUnavailable, "no entropy");
  auto r = InitializeDevice(transport, driver);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(transport.writes.back(), A | D | F | OK);
}

TEST(InitializeDeviceTest, TransportErrorSetsFailedAndNamesTheDevice) {
  RecordingTransport transport;
  transport.fail_reset = true;
  TestDriver driver;
  auto r = InitializeDevice(transport, driver);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(r.error().message(), "initializing virtio-rng: resetting: socket closed");
  EXPECT_EQ(transport.writes.back(), FAILED);
}

TEST(InitializeDeviceTest, DeviceTypeMismatchIsRejectedBeforeTouchingTheDevice) {
  RecordingTransport transport;
  transport.type = DeviceType::kBlock;
  TestDriver driver;
  auto r = InitializeDevice(transport, driver);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message().find("virtio-blk"), std::string::npos);
  EXPECT_TRUE(transport.writes.empty());
}

}  // namespace
}  // namespace trellis::virtio
