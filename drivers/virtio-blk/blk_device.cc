#include "drivers/virtio-blk/blk_device.h"

#include <cerrno>

#include "drivers/virtio-blk/blk_wire.h"

namespace trellis::virtio_blk {

Result<std::unique_ptr<BlkDevice>> BlkDevice::Connect(Reactor& reactor,
                                                      UnownedDispatcher dispatcher,
                                                      BlkDeviceOptions options,
                                                      OnFailure on_failure) {
  std::unique_ptr<BlkDevice> blk(
      new BlkDevice(reactor, std::move(dispatcher), std::move(options), std::move(on_failure)));
  TRELLIS_TRY(blk->Start());
  return blk;
}

BlkDevice::~BlkDevice() {
  watchdog_.reset();
  queue_.reset();
  device_.reset();
}

std::optional<uint64_t> BlkDevice::NegotiateFeatures(uint64_t offered) const {
  return AcceptedFeatures(offered);
}

Result<void> BlkDevice::Start() {
  TRELLIS_ASSIGN_OR_RETURN(device_,
                           vhost_user::VhostUserDevice::Connect(reactor_, dispatcher_,
                                                                {.socket_path = options_.socket,
                                                                 .type = virtio::DeviceType::kBlock,
                                                                 .timeout = options_.timeout}));
  TRELLIS_ASSIGN_OR_RETURN(std::vector<std::byte> config_bytes,
                           device_->ReadConfig(0, kConfigSize));
  // The slots' memory is sized before the geometry is known: by
  // max_transfer, which InfoOf only ever lowers.
  BlkQueueOptions q{.name = device_->name(),
                    .info = {.block_size = 512, .max_transfer_size = options_.max_transfer},
                    .slots = std::max<uint32_t>(1, options_.queue_size / 3)};
  vhost_user::DevicePlan plan{.queue_sizes = {options_.queue_size},
                              .driver_memory = BlkQueue::MemoryFor(q)};
  TRELLIS_ASSIGN_OR_RETURN(uint64_t features,
                           device_->Initialize(
                               *this, plan,
                               [this](size_t) {
                                 if (!queue_) return;
                                 queue_->OnUsed();
                                 // A device that broke its ring is as gone
                                 // as one that hung up.
                                 if (device_->queue(0).broken()) {
                                   Broke(device_->queue(0).broken_reason());
                                 }
                               },
                               [this](const std::string& reason) { Broke(reason); }));
  // The device is live from here: an error tears it down (the destructor).
  TRELLIS_ASSIGN_OR_RETURN(Config config, ParseConfig(config_bytes, features));
  q.info = InfoOf(config, features, options_.max_transfer);
  q.features = features;
  TRELLIS_ASSIGN_OR_RETURN(
      queue_, BlkQueue::Create(std::move(q), &device_->queue(0), device_->driver_memory(),
                               [this] { device_->Kick(0); }));
  watchdog_ = std::make_unique<virtio::StallWatchdog>(
      reactor_, dispatcher_, options_.timeout, [this] { return queue_->oldest_in_flight(); },
      [this](const std::string& reason) { Broke(reason); });
  return Ok();
}

void BlkDevice::Broke(const std::string& reason) {
  if (failed_) return;
  failed_ = true;
  if (queue_) queue_->Abort(reason);
  if (on_failure_) on_failure_(reason);
}

}  // namespace trellis::virtio_blk
