#include "drivers/virtio-blk/blk_queue.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "drivers/virtio-blk/blk_wire.h"

namespace trellis::virtio_blk {

namespace {

// Per slot: the header at 0, a discard/write-zeroes segment at 16, the
// status byte at 32.
constexpr size_t kMetaStride = 64;
constexpr size_t kSegmentOffset = 16;
constexpr size_t kStatusOffset = 32;
constexpr size_t kPage = 4096;

size_t RoundUp(size_t n, size_t to) { return (n + to - 1) / to * to; }

size_t MetaBytes(uint32_t slots) { return RoundUp(size_t{slots} * kMetaStride, kPage); }
size_t BounceStride(const BlockInfo& info) { return RoundUp(info.max_transfer_size, kPage); }

}  // namespace

size_t BlkQueue::MemoryFor(const BlkQueueOptions& options) {
  return MetaBytes(options.slots) + size_t{options.slots} * BounceStride(options.info);
}

Result<std::unique_ptr<BlkQueue>> BlkQueue::Create(BlkQueueOptions options,
                                                   virtio::SplitQueue* queue,
                                                   virtio::RingMemory memory,
                                                   std::function<void()> kick) {
  TRELLIS_TRY(ValidateBlockInfo(options.info), "virtio-blk geometry");
  if (options.slots == 0 || options.info.max_transfer_size == 0 ||
      options.info.max_transfer_size % options.info.block_size != 0) {
    return Fail(ErrorCode::kInvalidArgument,
                options.name + ": needs at least one slot and a transfer size of whole blocks");
  }
  size_t need = MemoryFor(options);
  if (memory.host.size() < need || reinterpret_cast<uintptr_t>(memory.host.data()) % kPage != 0) {
    return Fail(ErrorCode::kInvalidArgument,
                options.name + ": slot memory must be " + std::to_string(need) +
                    " page-aligned bytes, not " + std::to_string(memory.host.size()));
  }
  std::unique_ptr<BlkQueue> q(new BlkQueue(std::move(options), queue, std::move(kick)));
  const uint32_t n = q->options_.slots;
  const size_t stride = BounceStride(q->options_.info);
  const size_t bounce_base = MetaBytes(n);
  q->slots_.resize(n);
  q->free_.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    Slot& s = q->slots_[i];
    s.meta = memory.host.data() + size_t{i} * kMetaStride;
    s.meta_address = memory.device_address + size_t{i} * kMetaStride;
    size_t offset = bounce_base + size_t{i} * stride;
    s.bounce = memory.host.subspan(offset, q->options_.info.max_transfer_size);
    s.bounce_address = memory.device_address + offset;
    q->free_.push_back(n - 1 - i);  // Slot 0 is used first.
  }
  return q;
}

BlkQueue::~BlkQueue() = default;

std::string BlkQueue::Describe(const BlockRequest& request) const {
  std::string what(BlockOpName(request.op));
  if (request.op == BlockOp::kFlush) return what;
  return what + " of " + std::to_string(request.length_blocks) + " blocks at block " +
         std::to_string(request.offset_blocks);
}

void BlkQueue::Submit(const BlockRequest& request, BlockDone done) {
  if (aborted_) {
    done(FailErrno(EIO, options_.name + ": " + *aborted_));
    return;
  }
  if (auto valid = ValidateBlockRequest(options_.info, request); !valid) {
    done(std::move(valid));
    return;
  }
  const uint64_t sectors = request.length_blocks * (options_.info.block_size / 512);
  switch (request.op) {
    case BlockOp::kFlush:
      if (!(options_.features & Bit(kFeatureFlush))) {
        done(Ok());  // No volatile cache: completed writes are durable.
        return;
      }
      break;
    case BlockOp::kDiscard:
    case BlockOp::kWriteZeroes: {
      bool discard = request.op == BlockOp::kDiscard;
      int feature = discard ? kFeatureDiscard : kFeatureWriteZeroes;
      if (!(options_.features & Bit(feature))) {
        done(Fail(ErrorCode::kUnimplemented, options_.name + ": the device does not offer " +
                                                 (discard ? "DISCARD" : "WRITE_ZEROES")));
        return;
      }
      if (sectors > UINT32_MAX) {
        done(Fail(ErrorCode::kInvalidArgument,
                  options_.name + ": " + Describe(request) + " is more than one request can name"));
        return;
      }
      break;
    }
    default:
      break;
  }
  if (quiesced_ || free_.empty()) {
    waiting_.push_back({request, std::move(done)});
    return;
  }
  size_t slot = free_.back();
  free_.pop_back();
  Start(slot, request, std::move(done));
  // A request submitted from a completion goes out with the batch OnUsed
  // kicks for at its end: one wake-up of the device for all of them.
  if (!completing_) KickIfNeeded();
}

void BlkQueue::Start(size_t slot, BlockRequest request, BlockDone done) {
  Slot& s = slots_[slot];
  s.request = request;
  s.done = std::move(done);
  s.flush_after = false;
  RequestType type = RequestType::kIn;
  switch (request.op) {
    case BlockOp::kRead:
      type = RequestType::kIn;
      break;
    case BlockOp::kWrite:
      type = RequestType::kOut;
      std::memcpy(s.bounce.data(), request.data.data(), request.data.size());
      s.flush_after = request.fua && (options_.features & Bit(kFeatureFlush));
      break;
    case BlockOp::kFlush:
      type = RequestType::kFlush;
      break;
    case BlockOp::kDiscard:
      type = RequestType::kDiscard;
      break;
    case BlockOp::kWriteZeroes:
      type = RequestType::kWriteZeroes;
      break;
  }
  if (auto added = Add(slot, type); !added) Finish(slot, std::move(added));
}

Result<void> BlkQueue::Add(size_t slot, RequestType type) {
  Slot& s = slots_[slot];
  const uint64_t per_block = options_.info.block_size / 512;
  RequestHeader header{
      .type = static_cast<uint32_t>(type),
      .reserved = 0,
      .sector = type == RequestType::kFlush ? 0 : s.request.offset_blocks * per_block};
  std::memcpy(s.meta, &header, sizeof(header));
  s.meta[kStatusOffset] = std::byte{0xff};  // Not a status: caught if the device skips it.
  virtio::Buffer out[2];
  virtio::Buffer in[2];
  size_t num_out = 0;
  size_t num_in = 0;
  out[num_out++] = {s.meta_address, sizeof(RequestHeader)};
  const auto bytes = static_cast<uint32_t>(s.request.length_blocks * options_.info.block_size);
  switch (type) {
    case RequestType::kIn:
      in[num_in++] = {s.bounce_address, bytes};
      break;
    case RequestType::kOut:
      out[num_out++] = {s.bounce_address, bytes};
      break;
    case RequestType::kDiscard:
    case RequestType::kWriteZeroes: {
      DiscardSegment segment{
          .sector = header.sector,
          .num_sectors = static_cast<uint32_t>(s.request.length_blocks * per_block),
          .flags = 0};
      std::memcpy(s.meta + kSegmentOffset, &segment, sizeof(segment));
      out[num_out++] = {s.meta_address + kSegmentOffset, sizeof(DiscardSegment)};
      break;
    }
    default:
      break;
  }
  in[num_in++] = {s.meta_address + kStatusOffset, 1};
  TRELLIS_TRY(queue_->Add(std::span(out, num_out), std::span(in, num_in), &s));
  s.added = Clock::now();
  return Ok();
}

void BlkQueue::CompleteUsed(void* token, Result<uint32_t> written) {
  Complete(static_cast<size_t>(static_cast<Slot*>(token) - slots_.data()), std::move(written));
}

void BlkQueue::OnUsed() {
  auto complete = [this](void* token, Result<uint32_t> written) {
    CompleteUsed(token, std::move(written));
  };
  completing_ = true;
  do {
    queue_->DisableCallbacks();
    queue_->PollUsed(complete);
  } while (!queue_->EnableCallbacks());
  completing_ = false;
  StartQueued();
  KickIfNeeded();
}

void BlkQueue::Complete(size_t slot, Result<uint32_t> written) {
  Slot& s = slots_[slot];
  if (!written) {
    Finish(slot, Fail(written.error()));
    return;
  }
  // The device's len is not trusted for virtio-blk (the spec lets devices
  // get it wrong); the status byte is what counts.
  auto status = static_cast<uint8_t>(s.meta[kStatusOffset]);
  Result<void> result = StatusResult(status, Describe(s.request));
  if (result && s.request.op == BlockOp::kRead) {
    std::memcpy(s.request.data.data(), s.bounce.data(), s.request.data.size());
  }
  if (result && s.flush_after) {
    s.flush_after = false;
    result = Add(slot, RequestType::kFlush);
    if (result) return;  // Completes with the flush.
  }
  Finish(slot, std::move(result));
}

void BlkQueue::Finish(size_t slot, Result<void> result) {
  Slot& s = slots_[slot];
  BlockDone done = std::move(s.done);
  s.done = nullptr;
  s.request = {};
  free_.push_back(slot);
  done(std::move(result));
  if (quiesced_ && in_flight() == 0 && drained_) std::exchange(drained_, nullptr)();
}

void BlkQueue::StartQueued() {
  while (!quiesced_ && !aborted_ && !free_.empty() && !waiting_.empty()) {
    Pending next = std::move(waiting_.front());
    waiting_.pop_front();
    size_t slot = free_.back();
    free_.pop_back();
    Start(slot, next.request, std::move(next.done));
  }
}

void BlkQueue::KickIfNeeded() {
  if (queue_->NeedsNotify()) kick_();
}

void BlkQueue::Abort(const std::string& reason) {
  if (!aborted_) aborted_ = reason;
  queue_->MarkBroken(reason);
  queue_->PollUsed(
      [this](void* token, Result<uint32_t> written) { CompleteUsed(token, std::move(written)); });
  std::deque<Pending> waiting = std::move(waiting_);
  waiting_.clear();
  for (auto& pending : waiting) pending.done(FailErrno(EIO, options_.name + ": " + reason));
  if (in_flight() == 0 && drained_) std::exchange(drained_, nullptr)();
}

void BlkQueue::Quiesce(std::move_only_function<void()> drained) {
  quiesced_ = true;
  if (in_flight() == 0) {
    drained();
    return;
  }
  drained_ = std::move(drained);
}

void BlkQueue::Unquiesce() {
  quiesced_ = false;
  StartQueued();
  KickIfNeeded();
}

std::optional<BlkQueue::Clock::time_point> BlkQueue::oldest_in_flight() const {
  std::optional<Clock::time_point> oldest;
  for (const Slot& s : slots_) {
    if (s.done && (!oldest || s.added < *oldest)) oldest = s.added;
  }
  return oldest;
}

}  // namespace trellis::virtio_blk
