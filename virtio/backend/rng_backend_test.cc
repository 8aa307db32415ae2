// The rng device end to end: the real frontend and SplitQueue against our
// backend, in-process (a thread) and through trellis-vhost-backend.
#include <gtest/gtest.h>
#include <sys/eventfd.h>

#include <algorithm>
#include <cstring>

#include "virtio/backend/rng_device.h"
#include "virtio/backend/testing/backend_process.h"
#include "virtio/backend/testing/backend_thread.h"
#include "virtio/backend/testing/test_driver.h"
#include "virtio/entropy_layout.h"

namespace trellis::virtio::backend {
namespace {

using namespace std::chrono_literals;
using testing::BackendProcess;
using testing::BackendThread;
using testing::TestDriver;

constexpr size_t kRequestBytes = 4096;

bool AllZero(std::span<const std::byte> bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](std::byte b) { return b == std::byte{0}; });
}

// Three 4 KiB requests come back full of bytes that are neither zero nor
// equal to each other.
void ExpectRandomRequests(const std::string& socket_path, bool event_idx = true,
                          uint16_t indirect_max = 0) {
  auto driver = TestDriver::Connect(
      {.socket_path = socket_path, .event_idx = event_idx, .indirect_max = indirect_max});
  ASSERT_TRUE(driver) << driver.error().ToString();
  TestDriver& d = **driver;
  std::vector<std::span<std::byte>> buffers;
  for (uintptr_t i = 0; i < 3; ++i) {
    auto buffer = d.Allocate(kRequestBytes);
    ASSERT_TRUE(buffer) << buffer.error().ToString();
    buffers.push_back(*buffer);
    Buffer in{TestDriver::Address(*buffer), kRequestBytes};
    ASSERT_TRUE(
        d.queue(entropy::kRequestQueue).Add({}, std::span(&in, 1), reinterpret_cast<void*>(i + 1)));
  }
  d.Kick(entropy::kRequestQueue);
  auto done = d.WaitCompletions(entropy::kRequestQueue, 3, 5s);
  ASSERT_EQ(done.size(), 3u);
  for (const auto& c : done) {
    ASSERT_TRUE(c.written) << c.written.error().ToString();
    EXPECT_EQ(*c.written, kRequestBytes);
  }
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_FALSE(AllZero(buffers[i])) << "request " << i;
    for (size_t j = 0; j < i; ++j) {
      EXPECT_NE(std::memcmp(buffers[i].data(), buffers[j].data(), kRequestBytes), 0);
    }
  }
}

TEST(RngBackendTest, FillsRequestsAndServesAReconnect) {
  auto backend = BackendThread::Start(std::make_unique<RngDevice>());
  ASSERT_TRUE(backend) << backend.error().ToString();
  ASSERT_NO_FATAL_FAILURE(ExpectRandomRequests((*backend)->socket_path()));
  ASSERT_TRUE((*backend)->WaitForLog("connection 1 closed", 5s)) << (*backend)->Log();
  ASSERT_NO_FATAL_FAILURE(ExpectRandomRequests((*backend)->socket_path()));
  EXPECT_EQ((*backend)->connections(), 2u);
}

TEST(RngBackendTest, ExecutableFillsRequestsAndServesAReconnect) {
  if (!BackendProcess::Available()) GTEST_SKIP() << BackendProcess::kMissing;
  auto process = BackendProcess::Start({.device = "rng"});
  ASSERT_TRUE(process) << process.error().ToString();
  ASSERT_NO_FATAL_FAILURE(ExpectRandomRequests((*process)->socket_path()));
  ASSERT_NO_FATAL_FAILURE(ExpectRandomRequests((*process)->socket_path()));
  ASSERT_TRUE((*process)->WaitForLog("connection 2 closed", 5s));
  auto status = (*process)->Terminate();
  ASSERT_TRUE(status) << status.error().ToString();
  EXPECT_EQ(*status, 0) << (*process)->Log();
  EXPECT_NE(::access((*process)->socket_path().c_str(), F_OK), 0) << "socket file left behind";
}

TEST(RngBackendTest, WorksWithoutEventIdxAndWithIndirectDescriptors) {
  auto backend = BackendThread::Start(std::make_unique<RngDevice>());
  ASSERT_TRUE(backend) << backend.error().ToString();
  ASSERT_NO_FATAL_FAILURE(ExpectRandomRequests((*backend)->socket_path(), /*event_idx=*/false));
  ASSERT_NO_FATAL_FAILURE(
      ExpectRandomRequests((*backend)->socket_path(), /*event_idx=*/true, /*indirect_max=*/4));
}

// Adds one 64-byte request on queue 0 and kicks.
void AddRequest(TestDriver& driver) {
  auto buffer = driver.Allocate(64);
  ASSERT_TRUE(buffer) << buffer.error().ToString();
  Buffer in{TestDriver::Address(*buffer), 64};
  ASSERT_TRUE(driver.queue(0).Add({}, std::span(&in, 1), nullptr));
  driver.Kick(0);
}

TEST(RngBackendTest, GetVringBaseStopsTheRingWhichResumesFromThere) {
  auto backend = BackendThread::Start(std::make_unique<RngDevice>());
  ASSERT_TRUE(backend) << backend.error().ToString();
  auto driver = TestDriver::Connect({.socket_path = (*backend)->socket_path()});
  ASSERT_TRUE(driver) << driver.error().ToString();
  TestDriver& d = **driver;
  for (int i = 0; i < 3; ++i) ASSERT_NO_FATAL_FAILURE(AddRequest(d));
  ASSERT_EQ(d.WaitCompletions(0, 3, 5s).size(), 3u);
  auto base = d.frontend().GetVringBase(0);
  ASSERT_TRUE(base) << base.error().ToString();
  EXPECT_EQ(*base, 3u);
  // Stopped: a new request is not served.
  ASSERT_NO_FATAL_FAILURE(AddRequest(d));
  (void)::eventfd_write(d.kick_fd(0), 1);
  EXPECT_TRUE(d.WaitCompletions(0, 1, 200ms).empty());
  // Restarted at the base with a kick fd again: the waiting request is served.
  ASSERT_TRUE(d.frontend().SetVringBase(0, *base));
  ASSERT_TRUE(d.frontend().SetVringKick(0, d.kick_fd(0)));
  auto done = d.WaitCompletions(0, 1, 5s);
  ASSERT_EQ(done.size(), 1u) << (*backend)->Log();
  ASSERT_TRUE(done[0].written) << done[0].written.error().ToString();
  EXPECT_EQ(*done[0].written, 64u);
}

TEST(RngBackendTest, ReadableDescriptorGetsZeroBytes) {
  auto backend = BackendThread::Start(std::make_unique<RngDevice>());
  ASSERT_TRUE(backend) << backend.error().ToString();
  auto driver = TestDriver::Connect({.socket_path = (*backend)->socket_path()});
  ASSERT_TRUE(driver) << driver.error().ToString();
  auto out = (*driver)->Allocate(64);
  auto in = (*driver)->Allocate(64);
  ASSERT_TRUE(out && in);
  Buffer readable{TestDriver::Address(*out), 64};
  Buffer writable{TestDriver::Address(*in), 64};
  ASSERT_TRUE((*driver)->queue(0).Add(std::span(&readable, 1), std::span(&writable, 1), nullptr));
  (*driver)->Kick(0);
  auto done = (*driver)->WaitCompletions(0, 1, 5s);
  ASSERT_EQ(done.size(), 1u);
  ASSERT_TRUE(done[0].written) << done[0].written.error().ToString();
  EXPECT_EQ(*done[0].written, 0u);
  EXPECT_TRUE(AllZero(*in));
}

TEST(RngBackendTest, OffersTransportAndProtocolFeatures) {
  auto backend = BackendThread::Start(std::make_unique<RngDevice>());
  ASSERT_TRUE(backend) << backend.error().ToString();
  auto frontend = vhost_user::VhostUserFrontend::Connect((*backend)->socket_path());
  ASSERT_TRUE(frontend) << frontend.error().ToString();
  auto features = frontend->GetFeatures();
  ASSERT_TRUE(features) << features.error().ToString();
  EXPECT_EQ(*features, BackendTransportFeatures());
  auto protocol = frontend->GetProtocolFeatures();
  ASSERT_TRUE(protocol) << protocol.error().ToString();
  EXPECT_EQ(*protocol, BackendProtocolFeatures());
  ASSERT_TRUE(frontend->SetProtocolFeatures(*protocol));
  auto queues = frontend->GetQueueNum();
  ASSERT_TRUE(queues) << queues.error().ToString();
  EXPECT_EQ(*queues, entropy::kNumQueues);
  // No config space: GET_CONFIG is refused (an empty reply), the
  // connection stays usable.
  auto config = frontend->GetConfig(0, 4);
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().code(), ErrorCode::kAborted) << config.error().ToString();
  EXPECT_TRUE(frontend->GetFeatures());
}

}  // namespace
}  // namespace trellis::virtio::backend
