#include "virtio/backend/testing/test_driver.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

#include "virtio/features.h"

namespace trellis::virtio::backend::testing {

namespace {

constexpr size_t kPage = 4096;
size_t RoundUp(size_t n) { return (n + kPage - 1) / kPage * kPage; }

}  // namespace

Result<std::unique_ptr<TestDriver>> TestDriver::Connect(TestDriverOptions options) {
  std::unique_ptr<TestDriver> driver(new TestDriver());
  TRELLIS_TRY(driver->Setup(options));
  return driver;
}

TestDriver::~TestDriver() {
  frontend_.reset();  // The connection closes before the fds it was given.
  for (Queue& q : queues_) {
    if (q.kick >= 0) ::close(q.kick);
    if (q.call >= 0) ::close(q.call);
  }
}

Result<void> TestDriver::Setup(const TestDriverOptions& options) {
  TRELLIS_ASSIGN_OR_RETURN(auto frontend, vhost_user::VhostUserFrontend::Connect(
                                              options.socket_path, {.timeout = options.timeout}));
  frontend_.emplace(std::move(frontend));
  TRELLIS_ASSIGN_OR_RETURN(uint64_t offered, frontend_->GetFeatures());
  TRELLIS_ASSIGN_OR_RETURN(uint64_t protocol, frontend_->GetProtocolFeatures());
  TRELLIS_TRY(frontend_->SetProtocolFeatures(protocol & (kFeatureBit(vhost_user::kProtocolFeatureReplyAck) |
                                                         kFeatureBit(vhost_user::kProtocolFeatureConfig))));
  TRELLIS_TRY(frontend_->SetOwner());
  uint64_t wanted = kFeatureBit(VIRTIO_F_VERSION_1) | kFeatureBit(vhost_user::kFeatureProtocolFeatures) |
                    (offered & kDeviceFeatureMask);
  if (options.event_idx) wanted |= kFeatureBit(VIRTIO_F_RING_EVENT_IDX);
  if (options.indirect_max > 0) wanted |= kFeatureBit(VIRTIO_F_INDIRECT_DESC);
  features_ = wanted & offered;
  TRELLIS_TRY(frontend_->SetFeatures(features_));

  const uint16_t indirect = (features_ & kFeatureBit(VIRTIO_F_INDIRECT_DESC)) ? options.indirect_max : 0;
  TRELLIS_ASSIGN_OR_RETURN(SplitQueueLayout layout,
                           SplitQueueLayout::For(options.queue_size, indirect));
  const size_t ring_bytes = RoundUp(layout.total_bytes);
  TRELLIS_ASSIGN_OR_RETURN(auto memory,
                           vhost_user::GuestMemory::Create(ring_bytes * options.num_queues +
                                                           RoundUp(options.data_bytes)));
  memory_.emplace(std::move(memory));
  queues_.resize(options.num_queues);
  for (size_t i = 0; i < options.num_queues; ++i) {
    TRELLIS_ASSIGN_OR_RETURN(std::span<std::byte> rings, memory_->Allocate(ring_bytes, kPage));
    TRELLIS_ASSIGN_OR_RETURN(
        SplitQueue ring,
        SplitQueue::Create({.name = "test driver queue " + std::to_string(i),
                            .size = options.queue_size,
                            .event_idx = (features_ & kFeatureBit(VIRTIO_F_RING_EVENT_IDX)) != 0,
                            .indirect_max = indirect},
                           {.host = rings, .device_address = Address(rings)}));
    queues_[i].ring = std::make_unique<SplitQueue>(std::move(ring));
  }
  vhost_user::MemoryRegion region = memory_->region();
  TRELLIS_TRY(frontend_->SetMemTable(std::span(&region, 1)));
  for (size_t i = 0; i < queues_.size(); ++i) {
    Queue& q = queues_[i];
    const auto index = static_cast<uint32_t>(i);
    q.kick = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    q.call = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (q.kick < 0 || q.call < 0) return FailErrno(errno, "eventfd");
    TRELLIS_TRY(frontend_->SetVringNum(index, q.ring->size()));
    TRELLIS_TRY(frontend_->SetVringBase(index, 0));
    TRELLIS_TRY(frontend_->SetVringAddr({.index = index,
                                         .desc = q.ring->desc_device_address(),
                                         .used = q.ring->used_device_address(),
                                         .avail = q.ring->avail_device_address()}));
    TRELLIS_TRY(frontend_->SetVringKick(index, q.kick));
    TRELLIS_TRY(frontend_->SetVringCall(index, q.call));
    TRELLIS_TRY(frontend_->SetVringEnable(index, true));
  }
  return Ok();
}

Result<std::span<std::byte>> TestDriver::Allocate(size_t size) {
  return memory_->Allocate(size, 64);
}

void TestDriver::Kick(size_t index) {
  if (queues_[index].ring->NeedsNotify()) (void)::eventfd_write(queues_[index].kick, 1);
}

std::vector<TestCompletion> TestDriver::PollCompletions(size_t index) {
  std::vector<TestCompletion> out;
  SplitQueue& ring = *queues_[index].ring;
  do {
    ring.DisableCallbacks();
    ring.PollUsed([&](void* token, Result<uint32_t> written) {
      out.push_back({token, std::move(written)});
    });
  } while (!ring.EnableCallbacks());
  return out;
}

std::vector<TestCompletion> TestDriver::WaitCompletions(size_t index, size_t count,
                                                        std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<TestCompletion> out;
  for (;;) {
    for (TestCompletion& c : PollCompletions(index)) out.push_back(std::move(c));
    if (out.size() >= count) return out;
    auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return out;
    pollfd p{queues_[index].call, POLLIN, 0};
    (void)::poll(&p, 1, static_cast<int>(left.count()));
    eventfd_t drained;
    (void)::eventfd_read(queues_[index].call, &drained);
  }
}

}  // namespace trellis::virtio::backend::testing
