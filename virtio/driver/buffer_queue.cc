#include "virtio/driver/buffer_queue.h"

#include <cerrno>

namespace trellis::virtio {

namespace {

constexpr size_t kPage = 4096;

size_t Stride(const BufferQueueOptions& options) {
  return (size_t{options.buffer_size} + kPage - 1) / kPage * kPage;
}

}  // namespace

size_t BufferQueue::MemoryFor(const BufferQueueOptions& options) {
  return size_t{options.buffers} * Stride(options);
}

Result<std::unique_ptr<BufferQueue>> BufferQueue::Create(BufferQueueOptions options,
                                                         SplitQueue* queue, RingMemory memory,
                                                         std::function<void()> kick,
                                                         OnDone on_done) {
  if (options.buffers == 0 || options.buffer_size == 0) {
    return Fail(ErrorCode::kInvalidArgument, options.name + ": needs buffers of at least 1 byte");
  }
  const size_t need = MemoryFor(options);
  if (memory.host.size() < need || reinterpret_cast<uintptr_t>(memory.host.data()) % kPage != 0) {
    return Fail(ErrorCode::kInvalidArgument,
                options.name + ": buffer memory must be " + std::to_string(need) +
                    " page-aligned bytes, not " + std::to_string(memory.host.size()));
  }
  std::unique_ptr<BufferQueue> q(
      new BufferQueue(std::move(options), queue, std::move(kick), std::move(on_done)));
  const size_t n = q->options_.buffers;
  const size_t stride = Stride(q->options_);
  q->slots_.resize(n);
  q->free_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    q->slots_[i].host = memory.host.subspan(i * stride, q->options_.buffer_size);
    q->slots_[i].device_address = memory.device_address + i * stride;
    q->free_.push_back(n - 1 - i);  // Buffer 0 goes first.
  }
  return q;
}

std::optional<size_t> BufferQueue::Acquire() {
  if (free_.empty()) return std::nullopt;
  size_t id = free_.back();
  free_.pop_back();
  slots_[id].state = State::kHeld;
  return id;
}

void BufferQueue::Release(size_t id) {
  slots_[id].state = State::kFree;
  free_.push_back(id);
}

Result<void> BufferQueue::Post(size_t id, uint32_t length) {
  Slot& s = slots_[id];
  if (aborted_) {
    Release(id);
    return FailErrno(EIO, options_.name + ": " + *aborted_);
  }
  if (length == 0 || length > options_.buffer_size) {
    Release(id);
    return Fail(ErrorCode::kInvalidArgument,
                options_.name + ": a buffer of " + std::to_string(length) + " bytes");
  }
  s.length = length;
  if (quiesced_) {
    s.state = State::kHeldBack;
    held_back_.push_back(id);
    return Ok();
  }
  auto added = AddToRing(id);
  if (!added) Release(id);
  return added;
}

Result<void> BufferQueue::AddToRing(size_t id) {
  Slot& s = slots_[id];
  Buffer buffer{.device_address = s.device_address, .length = s.length};
  std::span<const Buffer> none;
  std::span<const Buffer> one(&buffer, 1);
  auto added = options_.device_writes ? queue_->Add(none, one, &s) : queue_->Add(one, none, &s);
  if (!added) return Fail(added.error());
  s.state = State::kInDevice;
  s.posted = Clock::now();
  ++in_device_;
  return Ok();
}

void BufferQueue::Notify() {
  // Inside OnUsed, buffers posted from completions go out with one kick at
  // its end.
  if (!polling_ && queue_->NeedsNotify()) kick_();
}

void BufferQueue::OnUsed() {
  auto complete = [this](void* token, Result<uint32_t> length) {
    Completed(static_cast<Slot*>(token) - slots_.data(), std::move(length));
  };
  polling_ = true;
  do {
    queue_->DisableCallbacks();
    queue_->PollUsed(complete);
  } while (!queue_->EnableCallbacks());
  polling_ = false;
  if (aborted_) {
    FailAll();
  } else {
    Notify();
  }
}

void BufferQueue::Completed(size_t id, Result<uint32_t> length) {
  Slot& s = slots_[id];
  s.state = State::kHeld;
  --in_device_;
  on_done_(id, std::move(length));
  MaybeDrained();
}

void BufferQueue::Abort(const std::string& reason) {
  if (!aborted_) aborted_ = reason;
  queue_->MarkBroken(reason);
  if (!polling_) FailAll();  // Else OnUsed does, once its poll is over.
}

void BufferQueue::FailAll() {
  queue_->PollUsed([this](void* token, Result<uint32_t>) {
    Completed(static_cast<Slot*>(token) - slots_.data(),
              FailErrno(EIO, options_.name + ": " + *aborted_));
  });
  std::deque<size_t> held = std::move(held_back_);
  held_back_.clear();
  for (size_t id : held) {
    slots_[id].state = State::kHeld;
    on_done_(id, FailErrno(EIO, options_.name + ": " + *aborted_));
  }
  MaybeDrained();
}

void BufferQueue::Quiesce(std::move_only_function<void()> drained) {
  quiesced_ = true;
  drained_ = std::move(drained);
  MaybeDrained();
}

void BufferQueue::Unquiesce() {
  quiesced_ = false;
  drained_ = nullptr;
  std::deque<size_t> held = std::move(held_back_);
  held_back_.clear();
  for (size_t id : held) {
    if (auto added = AddToRing(id); !added) {
      slots_[id].state = State::kHeld;
      on_done_(id, Fail(added.error()));
    }
  }
  Notify();
}

void BufferQueue::MaybeDrained() {
  if (in_device_ == 0 && drained_) std::exchange(drained_, nullptr)();
}

std::optional<BufferQueue::Clock::time_point> BufferQueue::oldest_in_device() const {
  std::optional<Clock::time_point> oldest;
  for (const Slot& s : slots_) {
    if (s.state == State::kInDevice && (!oldest || s.posted < *oldest)) oldest = s.posted;
  }
  return oldest;
}

}  // namespace trellis::virtio
