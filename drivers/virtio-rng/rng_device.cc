#include "drivers/virtio-rng/rng_device.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace trellis::virtio_rng {

Result<std::unique_ptr<RngDevice>> RngDevice::Connect(Reactor& reactor,
                                                      UnownedDispatcher dispatcher,
                                                      virtio::VirtioNodeOptions options,
                                                      OnFailure on_failure) {
  std::unique_ptr<RngDevice> rng(
      new RngDevice(reactor, std::move(dispatcher), std::move(options), std::move(on_failure)));
  TRELLIS_TRY(rng->Start());
  return rng;
}

RngDevice::~RngDevice() {
  watchdog_.reset();
  queue_.reset();
  device_.reset();
}

Result<void> RngDevice::Start() {
  TRELLIS_ASSIGN_OR_RETURN(device_,
                           vhost_user::VhostUserDevice::Connect(reactor_, dispatcher_,
                                                                {.socket_path = options_.socket,
                                                                 .type = virtio::DeviceType::kRng,
                                                                 .timeout = options_.timeout}));
  const uint32_t buffers = std::max<uint32_t>(1, options_.queue_size / 4);
  asked_.assign(buffers, 0);
  virtio::BufferQueueOptions q{.name = device_->name() + " requestq",
                               .device_writes = true,
                               .buffers = buffers,
                               .buffer_size = kBufferSize};
  vhost_user::DevicePlan plan{.queue_sizes = {options_.queue_size},
                              .driver_memory = virtio::BufferQueue::MemoryFor(q)};
  TRELLIS_TRY(device_->Initialize(
      *this, plan,
      [this](size_t) {
        if (!queue_) return;
        queue_->OnUsed();
        // A ring broken by an entry no request was waiting on fails nothing
        // in OnUsed; the device is gone all the same.
        if (device_->queue(0).broken()) Broke(device_->queue(0).broken_reason());
      },
      [this](const std::string& reason) { Broke(reason); }));
  TRELLIS_ASSIGN_OR_RETURN(
      queue_,
      virtio::BufferQueue::Create(
          std::move(q), &device_->queue(0), device_->driver_memory(), [this] { device_->Kick(0); },
          [this](size_t id, Result<uint32_t> length) { OnBuffer(id, std::move(length)); }));
  watchdog_ = std::make_unique<virtio::StallWatchdog>(
      reactor_, dispatcher_, options_.timeout, [this] { return queue_->oldest_in_device(); },
      [this](const std::string& reason) { Broke(reason); });
  return Ok();
}

void RngDevice::Read(size_t length, EntropyDone done) {
  if (failed_) {
    done(FailErrno(EIO, name() + ": " + *failed_));
    return;
  }
  Pending pending{.length = length, .done = std::move(done)};
  pending.bytes.reserve(length);
  waiting_.push_back(std::move(pending));
  wanted_ += length;
  Fill();
}

void RngDevice::Fill() {
  bool posted = false;
  while (!quiesced_ && !failed_ && requested_ < wanted_) {
    auto id = queue_->Acquire();
    if (!id) break;
    auto size = static_cast<uint32_t>(std::min<size_t>(kBufferSize, wanted_ - requested_));
    if (auto ok = queue_->Post(*id, size); !ok) {
      Broke(ok.error().message());
      return;
    }
    asked_[*id] = size;
    requested_ += size;
    posted = true;
  }
  if (posted) queue_->Notify();
}

void RngDevice::OnBuffer(size_t id, Result<uint32_t> length) {
  requested_ -= std::exchange(asked_[id], 0);
  if (!length) {
    queue_->Release(id);
    Broke(length.error().message());
    return;
  }
  std::span<const std::byte> got = queue_->buffer(id).first(*length);
  while (!got.empty() && !waiting_.empty()) {
    Pending& front = waiting_.front();
    size_t take = std::min(got.size(), front.length - front.bytes.size());
    front.bytes.insert(front.bytes.end(), got.begin(), got.begin() + take);
    got = got.subspan(take);
    wanted_ -= take;
    if (front.bytes.size() == front.length) {
      Pending done = std::move(front);
      waiting_.pop_front();
      done.done(std::move(done.bytes));
    }
  }
  // Wipe what the device wrote: entropy handed out once is not kept.
  std::memset(queue_->buffer(id).data(), 0, queue_->buffer(id).size());
  queue_->Release(id);
  Fill();
}

void RngDevice::Broke(const std::string& reason) {
  if (failed_) return;
  failed_ = reason;
  if (queue_) queue_->Abort(reason);
  std::deque<Pending> waiting = std::move(waiting_);
  waiting_.clear();
  wanted_ = 0;
  for (auto& pending : waiting) pending.done(FailErrno(EIO, name() + ": " + reason));
  if (on_failure_) on_failure_(reason);
}

void RngDevice::Quiesce(std::move_only_function<void()> drained) {
  quiesced_ = true;
  queue_->Quiesce(std::move(drained));
}

void RngDevice::Unquiesce() {
  quiesced_ = false;
  queue_->Unquiesce();
  Fill();
}

}  // namespace trellis::virtio_rng
