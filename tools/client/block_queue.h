// BlockQueue: Block requests with no gRPC on the data path, for clients on
// the host's machine (runtime/block_queue_wire.h). Requests go into a split
// virtqueue in memory shared with the host, payloads into a data area next
// to it, and two eventfds are the doorbells; the host serves the queue on
// the driver's own dispatcher.
//
//   auto queue = BlockQueue::Open(binding.endpoint(), binding.token(), info,
//                                 {.size = 128, .data_bytes = 1 << 20});
//   std::memcpy((*queue)->data().data(), bytes, 4096);
//   (*queue)->Submit({.op = BlockOp::kWrite, .offset_blocks = 8, .length_blocks = 1,
//                     .data_offset = 0}, /*tag=*/1);
//   (*queue)->Kick();
//   (*queue)->Wait([](uint64_t tag, Result<void> result) { ... }, 5s);
//
// Submit queues without telling the host; Kick rings the doorbell once per
// batch, and only when the host asked for it (RING_EVENT_IDX) — while the
// host has requests in the driver it picks new ones up as old ones
// complete. Wait sleeps on the call eventfd only when nothing is complete.
//
// Errors a request completes with are the Block service's: the host checks
// it against the device's geometry (OUT_OF_RANGE, PERMISSION_DENIED,
// INVALID_ARGUMENT) and an I/O error keeps its errno. Submit checks the same
// before anything is shared, so a well-formed client sees them there.
//
// Stop: if the host stops serving the queue (the driver stopped, the token
// was revoked, the host went away), every request in flight completes with
// the host's reason (UNAVAILABLE) and Submit fails from then on. The host
// may still finish such a request into its buffer afterwards: do not reuse
// those buffers until the queue is gone.
//
// Threading: one thread at a time; no locks. Owns its memory, eventfds and
// side connection; destroying it detaches the queue and its region.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "runtime/driver/block_protocol.h"
#include "runtime/error.h"
#include "runtime/unique_fd.h"
#include "tools/client/shared_memory.h"
#include "virtio/split_queue.h"

namespace trellis::client {

struct BlockQueueOptions {
  // Ring entries: a power of two, 2..1024; the most requests in flight.
  uint16_t size = 128;
  // Bytes of the data area requests point into (rounded up to 4 KiB).
  uint64_t data_bytes = uint64_t{1} << 20;
};

struct BlockQueueRequest {
  BlockOp op = BlockOp::kRead;
  uint64_t offset_blocks = 0;
  uint64_t length_blocks = 0;
  // Reads and writes: where in data() the payload is (length_blocks *
  // block_size bytes from there).
  uint64_t data_offset = 0;
  bool fua = false;
};

class BlockQueue {
 public:
  using OnComplete = std::function<void(uint64_t tag, Result<void> result)>;

  // Shares memory with the host serving `endpoint` ("unix:PATH") under
  // `token` (a Block binding) and attaches a queue in it. `info` is the
  // device's (Block.Info).
  // Errors: kInvalidArgument for bad options; the host's refusal with its
  // code and reason; kUnavailable if its side socket cannot be reached.
  static Result<std::unique_ptr<BlockQueue>> Open(const std::string& endpoint,
                                                  const std::string& token, const BlockInfo& info,
                                                  BlockQueueOptions options = {});

  ~BlockQueue();
  BlockQueue(const BlockQueue&) = delete;
  BlockQueue& operator=(const BlockQueue&) = delete;

  // The data area: 4096-aligned, shared with the host.
  std::span<std::byte> data() const { return data_; }
  uint16_t size() const { return queue_->size(); }
  uint16_t in_flight() const { return queue_->num_in_flight(); }
  // Why the host stopped the queue, once it has (see the header comment).
  const std::optional<Error>& stopped() const { return stopped_; }

  // Queues `request`; `tag` comes back with its completion. Does not tell
  // the host: call Kick after a batch.
  // Errors: the request's own (as the host would answer, see above, and
  // kOutOfRange for a payload outside data()); kResourceExhausted when
  // size() requests are in flight (Wait first); the stop reason once
  // stopped.
  Result<void> Submit(const BlockQueueRequest& request, uint64_t tag);

  // Rings the doorbell if the host wants it for what was submitted since
  // the last Kick.
  void Kick();

  // Runs `done` for every completed request, without waiting. Returns how
  // many.
  size_t Poll(const OnComplete& done);

  // As Poll, but first waits up to `timeout` for at least one completion.
  // Returns 0 after a timeout. A stop completes every request in flight.
  size_t Wait(const OnComplete& done, std::chrono::milliseconds timeout);

 private:
  struct Slot {
    uint64_t tag = 0;
    std::byte* header = nullptr;
    std::byte* status = nullptr;
  };

  BlockQueue(SharedMemory memory, virtio::SplitQueue queue, BlockInfo info, UniqueFd kick,
             UniqueFd call, std::span<std::byte> slots, std::span<std::byte> data);
  // Reads the host's notices; true if the queue was stopped.
  bool ReadNotices();
  void MarkStopped(Error reason);

  SharedMemory memory_;
  std::optional<virtio::SplitQueue> queue_;
  const BlockInfo info_;
  UniqueFd kick_;
  UniqueFd call_;
  std::span<std::byte> data_;
  uint64_t id_ = 0;
  std::vector<Slot> slots_;
  std::vector<uint16_t> free_slots_;
  std::optional<Error> stopped_;
};

}  // namespace trellis::client
