#include "virtio/vhost_user/device.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "virtio/initialize.h"
#include "virtio/vhost_user/message.h"
#include "virtio/vhost_user/transport.h"
#include "virtio/features.h"

namespace trellis::vhost_user {

using virtio::kFeatureBit;

namespace {

constexpr size_t kPage = 4096;
size_t RoundUp(size_t n) { return (n + kPage - 1) / kPage * kPage; }

}  // namespace

VhostUserDevice::VhostUserDevice(Reactor& reactor, UnownedDispatcher dispatcher,
                                 VhostUserDeviceOptions options, VhostUserFrontend frontend)
    : reactor_(reactor),
      dispatcher_(std::move(dispatcher)),
      options_(std::move(options)),
      name_(virtio::DeviceTypeName(options_.type) + " at " + options_.socket_path),
      frontend_(std::move(frontend)) {}

Result<std::unique_ptr<VhostUserDevice>> VhostUserDevice::Connect(Reactor& reactor,
                                                                  UnownedDispatcher dispatcher,
                                                                  VhostUserDeviceOptions options) {
  TRELLIS_ASSIGN_OR_RETURN(
      VhostUserFrontend frontend,
      VhostUserFrontend::Connect(options.socket_path, {.timeout = options.timeout}));
  TRELLIS_ASSIGN_OR_RETURN(uint64_t features, frontend.GetFeatures());
  if (features & kFeatureBit(kFeatureProtocolFeatures)) {
    TRELLIS_ASSIGN_OR_RETURN(uint64_t protocol, frontend.GetProtocolFeatures());
    TRELLIS_TRY(frontend.SetProtocolFeatures(
        protocol & (kFeatureBit(kProtocolFeatureReplyAck) | kFeatureBit(kProtocolFeatureConfig))));
  }
  TRELLIS_TRY(frontend.SetOwner());
  std::unique_ptr<VhostUserDevice> device(
      new VhostUserDevice(reactor, std::move(dispatcher), std::move(options), std::move(frontend)));
  // With VHOST_USER_F_PROTOCOL_FEATURES (set again in SET_FEATURES), rings
  // start disabled until SET_VRING_ENABLE.
  device->rings_start_disabled_ = features & kFeatureBit(kFeatureProtocolFeatures);
  return device;
}

VhostUserDevice::~VhostUserDevice() {
  // A completion already queued on the dispatcher still runs: it sees this.
  *alive_ = false;
  hangup_ = Operation();
  for (size_t i = 0; i < queues_.size(); ++i) {
    Queue& q = queues_[i];
    q.wait = Operation();
    // Stops the ring, so the backend lets go of the memory before we do.
    if (!failed_ && q.ring) (void)frontend_.GetVringBase(static_cast<uint32_t>(i));
    if (q.kick_fd >= 0) ::close(q.kick_fd);
    if (q.call_fd >= 0) ::close(q.call_fd);
  }
}

Result<std::vector<std::byte>> VhostUserDevice::ReadConfig(uint32_t offset, uint32_t size) {
  if (!(frontend_.protocol_features() & kFeatureBit(kProtocolFeatureConfig))) {
    return Fail(ErrorCode::kUnimplemented,
                name_ + ": the backend does not offer the CONFIG protocol feature");
  }
  return frontend_.GetConfig(offset, size);
}

Result<uint64_t> VhostUserDevice::Initialize(virtio::VirtioDeviceDriver& driver,
                                             const DevicePlan& plan, OnUsed on_used,
                                             OnFailure on_failure) {
  on_used_ = std::move(on_used);
  on_failure_ = std::move(on_failure);
  VhostUserTransport transport(frontend_, options_.type,
                               [&](uint64_t features) { return StartRings(plan, features); });
  TRELLIS_ASSIGN_OR_RETURN(uint64_t features, virtio::InitializeDevice(transport, driver));
  WatchSocket();
  return features;
}

Result<void> VhostUserDevice::StartRings(const DevicePlan& plan, uint64_t features) {
  const bool event_idx = features & kFeatureBit(virtio::VIRTIO_F_RING_EVENT_IDX);
  const uint16_t indirect =
      (features & kFeatureBit(virtio::VIRTIO_F_INDIRECT_DESC)) ? plan.indirect_max : 0;
  std::vector<virtio::SplitQueueLayout> layouts;
  size_t total = RoundUp(plan.driver_memory);
  for (uint16_t size : plan.queue_sizes) {
    TRELLIS_ASSIGN_OR_RETURN(virtio::SplitQueueLayout layout,
                             virtio::SplitQueueLayout::For(size, indirect));
    total += RoundUp(layout.total_bytes);
    layouts.push_back(layout);
  }
  TRELLIS_ASSIGN_OR_RETURN(GuestMemory memory, GuestMemory::Create(total, name_));
  memory_ = std::make_unique<GuestMemory>(std::move(memory));
  queues_.resize(plan.queue_sizes.size());
  for (size_t i = 0; i < queues_.size(); ++i) {
    TRELLIS_ASSIGN_OR_RETURN(std::span<std::byte> rings,
                             memory_->Allocate(RoundUp(layouts[i].total_bytes), kPage));
    TRELLIS_ASSIGN_OR_RETURN(
        virtio::SplitQueue ring,
        virtio::SplitQueue::Create(
            {.name = name_ + " queue " + std::to_string(i),
             .size = plan.queue_sizes[i],
             .event_idx = event_idx,
             .indirect_max = indirect},
            {.host = rings, .device_address = GuestMemory::DeviceAddress(rings.data())}));
    queues_[i].ring = std::make_unique<virtio::SplitQueue>(std::move(ring));
  }
  if (plan.driver_memory > 0) {
    TRELLIS_ASSIGN_OR_RETURN(std::span<std::byte> mine,
                             memory_->Allocate(RoundUp(plan.driver_memory), kPage));
    driver_memory_ = {.host = mine, .device_address = GuestMemory::DeviceAddress(mine.data())};
  }
  MemoryRegion region = memory_->region();
  TRELLIS_TRY(frontend_.SetMemTable(std::span(&region, 1)));
  for (size_t i = 0; i < queues_.size(); ++i) {
    Queue& q = queues_[i];
    const auto index = static_cast<uint32_t>(i);
    q.kick_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    q.call_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (q.kick_fd < 0 || q.call_fd < 0) return FailErrno(errno, name_ + ": eventfd");
    TRELLIS_TRY(frontend_.SetVringNum(index, q.ring->size()));
    TRELLIS_TRY(frontend_.SetVringBase(index, 0));
    TRELLIS_TRY(frontend_.SetVringAddr({.index = index,
                                        .desc = q.ring->desc_device_address(),
                                        .used = q.ring->used_device_address(),
                                        .avail = q.ring->avail_device_address()}));
    TRELLIS_TRY(frontend_.SetVringKick(index, q.kick_fd));
    TRELLIS_TRY(frontend_.SetVringCall(index, q.call_fd));
    WaitForCall(i);
  }
  if (rings_start_disabled_) {
    for (size_t i = 0; i < queues_.size(); ++i) {
      TRELLIS_TRY(frontend_.SetVringEnable(static_cast<uint32_t>(i), true));
    }
  }
  return Ok();
}

void VhostUserDevice::WaitForCall(size_t index) {
  // Readiness, then a plain read: backends (libvhost-user's) switch the
  // eventfds they are given to O_NONBLOCK, which an io_uring read of the fd
  // would see as -EAGAIN.
  auto on_ready = [this, index, alive = alive_](Completion c) {
    if (!*alive || c.result == -ECANCELED || failed_) return;
    if (c.result < 0) {
      Broke("waiting for the call eventfd of queue " + std::to_string(index) + ": " +
            std::strerror(-c.result));
      return;
    }
    eventfd_t count;
    (void)::eventfd_read(queues_[index].call_fd, &count);  // Readable: does not block.
    WaitForCall(index);  // Re-armed first: a call during on_used is not missed.
    on_used_(index);
  };
  auto op = reactor_.FdReady(queues_[index].call_fd, POLLIN, std::move(on_ready),
                             {.dispatcher = dispatcher_, .system = true});
  if (!op) {
    Broke("waiting for queue " + std::to_string(index) + ": " + op.error().message());
    return;
  }
  queues_[index].wait = std::move(*op);
}

void VhostUserDevice::WatchSocket() {
  auto op = reactor_.SocketReady(frontend_.fd(), 0,
                                 [this, alive = alive_](Completion c) {
                                   if (!*alive || c.result == -ECANCELED) return;
                                   Broke("the backend closed the connection");
                                 },
                                 {.dispatcher = dispatcher_, .system = true});
  if (op) hangup_ = std::move(*op);
}

void VhostUserDevice::Kick(size_t index) { (void)::eventfd_write(queues_[index].kick_fd, 1); }

void VhostUserDevice::Broke(const std::string& reason) {
  if (failed_) return;
  failed_ = true;
  if (on_failure_) on_failure_(reason);
}

}  // namespace trellis::vhost_user
