#include "runtime/host/block_queue_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bit>
#include <cstring>

#include "runtime/block_queue_wire.h"
#include "runtime/reactor.h"
#include "runtime/runtime.h"
#include "virtio/split_queue.h"

namespace trellis::host {

namespace {

using block_queue::kHeaderBytes;
using block_queue::kStatusBytes;

// Whether `fd` is an eventfd (its /proc link reads "anon_inode:[eventfd]").
bool IsEventFd(int fd) {
  char target[64] = {};
  std::string link = "/proc/self/fd/" + std::to_string(fd);
  ssize_t n = ::readlink(link.c_str(), target, sizeof(target) - 1);
  return n > 0 && std::string_view(target, static_cast<size_t>(n)) == "anon_inode:[eventfd]";
}

Result<void> CheckEventFd(const UniqueFd& fd, std::string_view which) {
  if (!fd.valid() || !IsEventFd(fd.get())) {
    return Fail(ErrorCode::kInvalidArgument,
                "the " + std::string(which) + " fd of a block queue must be an eventfd");
  }
  // The host never blocks on a client's fd: a client that drains our kick
  // or fills the call counter only stalls itself. (This changes the
  // client's open file description too, as libvhost-user does.)
  int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK) < 0) {
    return FailErrno(errno, "making the block queue's " + std::string(which) + " fd non-blocking");
  }
  return Ok();
}

// The request a chain asks for, or the error to answer it with.
Result<BlockRequest> Parse(const BlockInfo& info, const virtio::DeviceChain& chain) {
  if (chain.readable.empty() || chain.readable[0].size() != kHeaderBytes) {
    return Fail(ErrorCode::kInvalidArgument, "a block queue request starts with a " +
                                                 std::to_string(kHeaderBytes) + "-byte header");
  }
  block_queue::RequestHeader header;
  std::memcpy(&header, chain.readable[0].data(), sizeof(header));  // Read once.
  const bool fua = (header.flags & block_queue::kFlagFua) != 0;
  if ((header.flags & ~block_queue::kFlagFua) != 0) {
    return Fail(ErrorCode::kInvalidArgument,
                "unknown flags " + std::to_string(header.flags) + " in a block queue request");
  }
  BlockRequest request{.offset_blocks = header.offset_blocks,
                       .length_blocks = header.length_blocks};
  const size_t readable = chain.readable.size();
  const size_t writable = chain.writable.size();  // The last one is the status.
  auto shape = [&](size_t want_readable, size_t want_writable) -> Result<void> {
    if (readable == want_readable && writable == want_writable) return Ok();
    return Fail(ErrorCode::kInvalidArgument,
                "a block queue " + std::string(BlockOpName(request.op)) + " takes " +
                    std::to_string(want_readable) + " readable and " +
                    std::to_string(want_writable) + " writable buffers, not " +
                    std::to_string(readable) + " and " + std::to_string(writable));
  };
  switch (static_cast<block_queue::Op>(header.op)) {
    case block_queue::Op::kRead:
      request.op = BlockOp::kRead;
      TRELLIS_TRY(shape(1, 2));
      request.data = chain.writable[0];
      break;
    case block_queue::Op::kWrite:
      request.op = BlockOp::kWrite;
      TRELLIS_TRY(shape(2, 1));
      request.data = chain.readable[1];
      request.fua = fua;
      break;
    case block_queue::Op::kFlush:
      request.op = BlockOp::kFlush;
      TRELLIS_TRY(shape(1, 1));
      break;
    case block_queue::Op::kDiscard:
      request.op = BlockOp::kDiscard;
      TRELLIS_TRY(shape(1, 1));
      break;
    case block_queue::Op::kWriteZeroes:
      request.op = BlockOp::kWriteZeroes;
      TRELLIS_TRY(shape(1, 1));
      break;
    default:
      return Fail(ErrorCode::kInvalidArgument,
                  "unknown block queue op " + std::to_string(header.op));
  }
  if (fua && request.op != BlockOp::kWrite) {
    return Fail(ErrorCode::kInvalidArgument, "only a write takes the FUA flag");
  }
  // Range, read-only, sizes (the data buffer must be exactly the blocks').
  TRELLIS_TRY(ValidateBlockRequest(info, request));
  return request;
}

}  // namespace

Result<std::shared_ptr<BlockQueueServer>> BlockQueueServer::Create(BlockQueueConfig config) {
  const uint16_t size = config.size;
  if (size < block_queue::kMinQueueSize || size > block_queue::kMaxQueueSize ||
      !std::has_single_bit(size)) {
    return Fail(ErrorCode::kInvalidArgument, "a block queue's size must be a power of two in " +
                                                 std::to_string(block_queue::kMinQueueSize) + ".." +
                                                 std::to_string(block_queue::kMaxQueueSize) +
                                                 ", not " + std::to_string(size));
  }
  if (config.ring_offset % 64 != 0) {
    return Fail(ErrorCode::kInvalidArgument,
                "a block queue's rings must be 64-byte aligned, not at " +
                    std::to_string(config.ring_offset));
  }
  TRELLIS_ASSIGN_OR_RETURN(virtio::SplitQueueLayout layout, virtio::SplitQueueLayout::For(size, 0));
  TRELLIS_ASSIGN_OR_RETURN(std::span<std::byte> whole,
                           config.region->Slice(0, config.region->size()));
  if (auto rings = config.region->Slice(config.ring_offset, layout.total_bytes); !rings) {
    return Fail(ErrorCode::kInvalidArgument,
                "the rings of a " + std::to_string(size) + "-entry queue (" +
                    std::to_string(layout.total_bytes) + " bytes at " +
                    std::to_string(config.ring_offset) + ") do not fit the " +
                    std::to_string(config.region->size()) + "-byte region");
  }
  TRELLIS_TRY(CheckEventFd(config.kick, "kick"));
  TRELLIS_TRY(CheckEventFd(config.call, "call"));
  const uint64_t rings = config.ring_offset;
  std::shared_ptr<BlockQueueServer> server(
      new BlockQueueServer(std::move(config), virtio::LinearGuestMemory(whole, 0)));
  TRELLIS_ASSIGN_OR_RETURN(
      virtio::DeviceQueue queue,
      virtio::DeviceQueue::Create({.name = "block queue of " + server->config_.node_path,
                                   .size = size,
                                   .desc_address = rings + layout.desc_offset,
                                   .avail_address = rings + layout.avail_offset,
                                   .used_address = rings + layout.used_offset,
                                   .event_idx = true,
                                   .indirect = true},
                                  server->memory_));
  server->queue_.emplace(std::move(queue));
  server->status_.assign(size, nullptr);
  return server;
}

Result<void> BlockQueueServer::Start(uint64_t id) {
  id_ = id;
  return config_.instance->dispatcher().Post([self = shared_from_this()] {
    if (self->stopped_) return;
    self->ArmKick();
    self->Drain();
  });
}

void BlockQueueServer::Stop(std::optional<Error> reason) {
  if (reason) Notify(*reason);
  // A system task: a suspended driver still lets go of the queue. If the
  // dispatcher is already shut down, its operations were cancelled with it.
  (void)config_.instance->dispatcher().PostSystem([self = shared_from_this()] {
    self->stopped_ = true;
    self->kick_wait_ = Operation();
  });
}

void BlockQueueServer::ArmKick() {
  std::weak_ptr<BlockQueueServer> weak = weak_from_this();
  auto op = config_.instance->runtime().reactor().FdReady(
      config_.kick.get(), POLLIN,
      [weak](Completion c) {
        auto self = weak.lock();
        if (!self || self->stopped_ || c.result == -ECANCELED) return;
        if (c.result < 0 || (c.result & (POLLERR | POLLNVAL)) != 0) {
          self->stopped_ = true;
          self->Notify(Error(ErrorCode::kInternal, "waiting for the block queue's kick failed"));
          return;
        }
        self->OnKick();
      },
      {.dispatcher = config_.instance->dispatcher()});
  if (!op) {
    stopped_ = true;
    Notify(op.error());
    return;
  }
  kick_wait_ = std::move(*op);
}

void BlockQueueServer::OnKick() {
  eventfd_t count;
  (void)::eventfd_read(config_.kick.get(), &count);  // Non-blocking; the count does not matter.
  ArmKick();  // Re-armed first: a kick while draining is not missed.
  Drain();
}

void BlockQueueServer::Drain() {
  if (draining_ || stopped_) return;
  draining_ = true;
  auto* protocol = static_cast<BlockProtocol*>(
      config_.instance->FindProtocol(config_.node_path, BlockProtocol::kName));
  virtio::DeviceQueue& queue = *queue_;
  for (;;) {
    queue.DisableNotifications();
    for (;;) {
      auto popped = queue.Pop(chain_);
      if (!popped) {
        draining_ = false;
        Broke();
        return;
      }
      if (!*popped) break;
      StartChain(protocol, chain_);
      if (stopped_) break;
    }
    // Requests in the driver: their completions look again.
    if (in_driver_ > 0 || stopped_) break;
    if (queue.EnableNotifications()) break;
  }
  draining_ = false;
  SignalIfNeeded();
}

void BlockQueueServer::StartChain(BlockProtocol* protocol, const virtio::DeviceChain& chain) {
  const uint16_t head = chain.head;
  status_[head] = !chain.writable.empty() && chain.writable.back().size() == kStatusBytes
                      ? chain.writable.back().data()
                      : nullptr;
  ++in_driver_;
  if (protocol == nullptr) {
    Complete(head, Fail(ErrorCode::kUnavailable, "the driver no longer serves Block"), 0);
    return;
  }
  auto request = Parse(protocol->Info(), chain);
  if (!request) {
    Complete(head, Fail(request.error()), 0);
    return;
  }
  const uint32_t data_written =
      request->op == BlockOp::kRead ? static_cast<uint32_t>(request->data.size()) : 0;
  config_.instance->CountClientCall();
  protocol->Submit(*request, [self = shared_from_this(), head, data_written](Result<void> result) {
    self->Complete(head, result, result ? data_written : 0);
  });
}

void BlockQueueServer::Complete(uint16_t head, const Result<void>& result, uint32_t data_written) {
  --in_driver_;
  completed_.fetch_add(1, std::memory_order_relaxed);
  std::byte* status = status_[head];
  uint32_t written = 0;
  if (status != nullptr) {
    block_queue::Status s{};
    if (!result) {
      s.code = static_cast<int32_t>(result.error().code());
      s.errno_value = result.error().errno_value();
    }
    std::memcpy(status, &s, sizeof(s));
    written = data_written + static_cast<uint32_t>(kStatusBytes);
  }
  if (auto pushed = queue_->Push(head, written); !pushed && queue_->broken()) {
    Broke();
    return;
  }
  if (draining_) return;  // The drain loop goes on and signals once.
  Drain();
  if (stopped_) SignalIfNeeded();  // Drain did not run.
}

void BlockQueueServer::SignalIfNeeded() {
  if (queue_->NeedsCall()) (void)::eventfd_write(config_.call.get(), 1);
}

void BlockQueueServer::Broke() {
  if (stopped_) return;
  stopped_ = true;
  kick_wait_ = Operation();
  Notify(Error(ErrorCode::kDataLoss, queue_->broken_reason()));
}

void BlockQueueServer::Notify(const Error& reason) {
  if (notified_.exchange(true)) return;
  std::string message = reason.message();
  for (char& c : message) {
    if (c == '\n') c = ' ';
  }
  std::string line = std::string(block_queue::kStoppedNotice) + " " + std::to_string(id_) + " " +
                     std::to_string(static_cast<int>(reason.code())) + " " + message + "\n";
  (void)::send(config_.notices.get(), line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

}  // namespace trellis::host
