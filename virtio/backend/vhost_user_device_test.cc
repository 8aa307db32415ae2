// VhostUserDevice (the reactor-driven frontend the drivers use) against our
// backend: the whole VIRTIO initialization, a request, and the backend going
// away.
#include <gtest/gtest.h>

#include <future>

#include "runtime/dispatcher.h"
#include "runtime/runtime.h"
#include "runtime/testing/run_on.h"
#include "virtio/backend/rng_device.h"
#include "virtio/backend/testing/backend_thread.h"
#include "virtio/entropy_layout.h"
#include "virtio/vhost_user/device.h"

namespace trellis::virtio::backend {
namespace {

using namespace std::chrono_literals;
using trellis::testing::RunOn;

class RngDriver final : public VirtioDeviceDriver {
 public:
  std::optional<uint64_t> NegotiateFeatures(uint64_t) const override { return 0; }
  DeviceType device_type() const override { return DeviceType::kRng; }
};

TEST(VhostUserDeviceTest, InitializesServesARequestAndSeesTheBackendGo) {
  auto backend = testing::BackendThread::Start(std::make_unique<RngDevice>());
  ASSERT_TRUE(backend) << backend.error().ToString();
  auto runtime = Runtime::Create({.threads = 1});
  ASSERT_TRUE(runtime) << runtime.error().ToString();
  Dispatcher dispatcher = Dispatcher::Create(**runtime, {.name = "rng test"});
  RngDriver driver;
  std::unique_ptr<vhost_user::VhostUserDevice> device;
  std::promise<Result<uint32_t>> completed;
  std::promise<std::string> failed;
  auto started = RunOn(dispatcher.borrow(), [&]() -> Result<void> {
    TRELLIS_ASSIGN_OR_RETURN(
        device, vhost_user::VhostUserDevice::Connect(
                    (*runtime)->reactor(), dispatcher.borrow(),
                    {.socket_path = (*backend)->socket_path(), .type = DeviceType::kRng}));
    TRELLIS_TRY(device->Initialize(
        driver, {.queue_sizes = {8}, .indirect_max = 0, .driver_memory = 4096},
        [&](size_t queue) {
          device->queue(queue).PollUsed(
              [&](void*, Result<uint32_t> written) { completed.set_value(std::move(written)); });
        },
        [&](const std::string& reason) { failed.set_value(reason); }));
    Buffer in{device->driver_memory().device_address, 256};
    TRELLIS_TRY(device->queue(entropy::kRequestQueue).Add({}, std::span(&in, 1), nullptr));
    device->Kick(entropy::kRequestQueue);
    return Ok();
  });
  ASSERT_TRUE(started) << started.error().ToString();
  auto written = completed.get_future();
  ASSERT_EQ(written.wait_for(5s), std::future_status::ready) << (*backend)->Log();
  auto len = written.get();
  ASSERT_TRUE(len) << len.error().ToString();
  EXPECT_EQ(*len, 256u);

  backend->reset();  // The backend goes away: the device hears of it.
  auto reason = failed.get_future();
  ASSERT_EQ(reason.wait_for(5s), std::future_status::ready);
  EXPECT_NE(reason.get().find("closed"), std::string::npos);
  RunOn(dispatcher.borrow(), [&] { device.reset(); });
}

}  // namespace
}  // namespace trellis::virtio::backend
