#include "tools/client/block_queue.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <string_view>

#include "runtime/block_queue_wire.h"

namespace trellis::client {

namespace {

constexpr uint64_t kPage = 4096;
// Each request's header and status live in its slot.
constexpr size_t kSlotBytes = 64;
constexpr size_t kStatusOffset = 32;
// A request has at most three buffers: one ring descriptor each, with
// indirect tables.
constexpr uint16_t kIndirectMax = 4;

uint64_t RoundUp(uint64_t n, uint64_t to) { return (n + to - 1) / to * to; }

block_queue::Op WireOp(BlockOp op) {
  switch (op) {
    case BlockOp::kRead:
      return block_queue::Op::kRead;
    case BlockOp::kWrite:
      return block_queue::Op::kWrite;
    case BlockOp::kFlush:
      return block_queue::Op::kFlush;
    case BlockOp::kDiscard:
      return block_queue::Op::kDiscard;
    case BlockOp::kWriteZeroes:
      return block_queue::Op::kWriteZeroes;
  }
  return block_queue::Op::kRead;
}

}  // namespace

Result<std::unique_ptr<BlockQueue>> BlockQueue::Open(const std::string& endpoint,
                                                     const std::string& token,
                                                     const BlockInfo& info,
                                                     BlockQueueOptions options) {
  const uint16_t size = options.size;
  if (size < block_queue::kMinQueueSize || size > block_queue::kMaxQueueSize ||
      (size & (size - 1)) != 0) {
    return Fail(
        ErrorCode::kInvalidArgument,
        "a block queue's size must be a power of two in 2..1024, not " + std::to_string(size));
  }
  TRELLIS_TRY(ValidateBlockInfo(info));
  TRELLIS_ASSIGN_OR_RETURN(virtio::SplitQueueLayout layout,
                           virtio::SplitQueueLayout::For(size, kIndirectMax));
  const uint64_t rings_bytes = RoundUp(layout.total_bytes, kPage);
  const uint64_t slots_bytes = RoundUp(uint64_t{size} * kSlotBytes, kPage);
  const uint64_t data_bytes = RoundUp(std::max<uint64_t>(options.data_bytes, 1), kPage);
  TRELLIS_ASSIGN_OR_RETURN(SharedMemory memory,
                           SharedMemory::Create(rings_bytes + slots_bytes + data_bytes));
  std::span<std::byte> bytes = memory.bytes();
  // Device addresses are offsets into the region: the rings start at 0.
  TRELLIS_ASSIGN_OR_RETURN(
      virtio::SplitQueue queue,
      virtio::SplitQueue::Create(
          {.name = "block queue", .size = size, .event_idx = true, .indirect_max = kIndirectMax},
          {.host = bytes.first(rings_bytes), .device_address = 0}));
  UniqueFd kick(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  UniqueFd call(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!kick.valid() || !call.valid()) return FailErrno(errno, "eventfd for a block queue");
  TRELLIS_ASSIGN_OR_RETURN(uint64_t region, memory.Attach(endpoint, token));
  const int fds[] = {kick.get(), call.get()};
  const std::string request = std::string(block_queue::kQueueCommand) + " " +
                              std::to_string(region) + " 0 " + std::to_string(size) + " " + token;
  TRELLIS_ASSIGN_OR_RETURN(uint64_t id, SendSideMessage(memory.side_socket(), request, fds, 2));
  std::span<std::byte> slots = bytes.subspan(rings_bytes, slots_bytes);
  std::span<std::byte> data = bytes.subspan(rings_bytes + slots_bytes, data_bytes);
  std::unique_ptr<BlockQueue> result(new BlockQueue(std::move(memory), std::move(queue), info,
                                                    std::move(kick), std::move(call), slots, data));
  result->id_ = id;
  return result;
}

BlockQueue::BlockQueue(SharedMemory memory, virtio::SplitQueue queue, BlockInfo info, UniqueFd kick,
                       UniqueFd call, std::span<std::byte> slots, std::span<std::byte> data)
    : memory_(std::move(memory)),
      queue_(std::move(queue)),
      info_(info),
      kick_(std::move(kick)),
      call_(std::move(call)),
      data_(data) {
  const uint16_t n = queue_->size();
  slots_.resize(n);
  free_slots_.reserve(n);
  for (uint16_t i = 0; i < n; ++i) {
    slots_[i].header = slots.data() + size_t{i} * kSlotBytes;
    slots_[i].status = slots_[i].header + kStatusOffset;
    free_slots_.push_back(static_cast<uint16_t>(n - 1 - i));
  }
}

// Closing the side connection (with memory_) detaches the queue and region.
BlockQueue::~BlockQueue() = default;

Result<void> BlockQueue::Submit(const BlockQueueRequest& request, uint64_t tag) {
  if (stopped_) return std::unexpected(*stopped_);
  const bool has_data = request.op == BlockOp::kRead || request.op == BlockOp::kWrite;
  BlockRequest checked{.op = request.op,
                       .offset_blocks = request.offset_blocks,
                       .length_blocks = request.length_blocks,
                       .fua = request.fua};
  if (has_data) {
    const uint64_t bytes =
        request.length_blocks <= UINT32_MAX ? request.length_blocks * info_.block_size : UINT64_MAX;
    if (request.data_offset > data_.size() || bytes > data_.size() - request.data_offset) {
      return Fail(ErrorCode::kOutOfRange, "the payload at " + std::to_string(request.data_offset) +
                                              " lies outside the block queue's " +
                                              std::to_string(data_.size()) + "-byte data area");
    }
    checked.data = data_.subspan(request.data_offset, bytes);
  }
  TRELLIS_TRY(ValidateBlockRequest(info_, checked));
  if (free_slots_.empty()) {
    return Fail(ErrorCode::kResourceExhausted,
                "all " + std::to_string(slots_.size()) + " block queue entries are in flight");
  }
  const uint16_t index = free_slots_.back();
  Slot& slot = slots_[index];
  block_queue::RequestHeader header{
      .op = static_cast<uint32_t>(WireOp(request.op)),
      .flags = request.fua ? block_queue::kFlagFua : 0,
      .offset_blocks = request.offset_blocks,
      .length_blocks = request.length_blocks,
  };
  std::memcpy(slot.header, &header, sizeof(header));
  const std::byte* base = memory_.bytes().data();
  auto address = [base](const std::byte* p) { return static_cast<uint64_t>(p - base); };
  virtio::Buffer out[2] = {{address(slot.header), block_queue::kHeaderBytes}};
  virtio::Buffer in[2];
  size_t num_out = 1;
  size_t num_in = 0;
  if (has_data) {
    virtio::Buffer payload{address(checked.data.data()),
                           static_cast<uint32_t>(checked.data.size())};
    if (request.op == BlockOp::kWrite) {
      out[num_out++] = payload;
    } else {
      in[num_in++] = payload;
    }
  }
  in[num_in++] = {address(slot.status), block_queue::kStatusBytes};
  // The token is the slot's index + 1 (never null).
  auto* token = reinterpret_cast<void*>(uintptr_t{index} + 1);
  TRELLIS_TRY(queue_->Add(std::span(out, num_out), std::span(in, num_in), token));
  free_slots_.pop_back();
  slot.tag = tag;
  return Ok();
}

void BlockQueue::Kick() {
  if (queue_->NeedsNotify()) (void)::eventfd_write(kick_.get(), 1);
}

size_t BlockQueue::Poll(const OnComplete& done) {
  return queue_->PollUsed([&](void* token, Result<uint32_t> written) {
    const auto index = static_cast<uint16_t>(reinterpret_cast<uintptr_t>(token) - 1);
    Slot& slot = slots_[index];
    free_slots_.push_back(index);
    if (!written) {
      // Failed by a stop (MarkStopped) — or the host broke the ring.
      done(slot.tag, std::unexpected(stopped_ ? *stopped_ : written.error()));
      return;
    }
    if (*written < block_queue::kStatusBytes) {
      done(slot.tag, Fail(ErrorCode::kInvalidArgument, "the host could not parse the request"));
      return;
    }
    block_queue::Status status;
    std::memcpy(&status, slot.status, sizeof(status));
    if (status.code == 0) {
      done(slot.tag, Ok());
      return;
    }
    const auto code = status.code > 0 && status.code <= 16 ? static_cast<ErrorCode>(status.code)
                                                           : ErrorCode::kInternal;
    Error error = status.errno_value > 0
                      ? Error::FromErrno(status.errno_value, "block queue request")
                      : Error(code, "block queue request failed");
    done(slot.tag, std::unexpected(std::move(error)));
  });
}

size_t BlockQueue::Wait(const OnComplete& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (size_t n = Poll(done); n > 0) return n;
    if (stopped_ || queue_->num_in_flight() == 0) return 0;
    if (!queue_->EnableCallbacks()) continue;  // Completions arrived meanwhile.
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return 0;
    pollfd fds[2] = {{call_.get(), POLLIN, 0}, {memory_.side_socket(), POLLIN, 0}};
    int ready = ::poll(fds, 2, static_cast<int>(std::min<int64_t>(left.count(), INT32_MAX)));
    if (ready <= 0) continue;  // EINTR or the timeout: checked above.
    if (fds[0].revents != 0) {
      eventfd_t count;
      (void)::eventfd_read(call_.get(), &count);
    }
    if (fds[1].revents != 0 && ReadNotices()) continue;  // Poll fails what is in flight.
  }
}

bool BlockQueue::ReadNotices() {
  char line[1024];
  ssize_t n = ::recv(memory_.side_socket(), line, sizeof(line) - 1, MSG_DONTWAIT);
  if (n < 0) return false;  // EAGAIN: nothing after all.
  if (n == 0) {
    MarkStopped(Error(ErrorCode::kUnavailable, "the host closed the block queue's connection"));
    return true;
  }
  // "stopped <id> <code> <reason>\n"
  std::string_view notice(line, static_cast<size_t>(n));
  if (notice.ends_with('\n')) notice.remove_suffix(1);
  constexpr std::string_view kStopped = "stopped ";
  if (!notice.starts_with(kStopped)) return false;
  notice.remove_prefix(kStopped.size());
  uint64_t id = 0;
  int code = 0;
  auto parsed = std::from_chars(notice.data(), notice.data() + notice.size(), id);
  if (parsed.ec != std::errc() || id != id_) return false;
  notice.remove_prefix(static_cast<size_t>(parsed.ptr - notice.data()));
  if (notice.starts_with(' ')) notice.remove_prefix(1);
  parsed = std::from_chars(notice.data(), notice.data() + notice.size(), code);
  if (parsed.ec == std::errc()) {
    notice.remove_prefix(static_cast<size_t>(parsed.ptr - notice.data()));
    if (notice.starts_with(' ')) notice.remove_prefix(1);
  }
  const auto error_code =
      code > 0 && code <= 16 ? static_cast<ErrorCode>(code) : ErrorCode::kUnavailable;
  MarkStopped(Error(error_code, "the host stopped the block queue: " + std::string(notice)));
  return true;
}

void BlockQueue::MarkStopped(Error reason) {
  if (stopped_) return;
  queue_->MarkBroken(reason.message());
  stopped_ = std::move(reason);
}

}  // namespace trellis::client
