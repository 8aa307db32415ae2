// BufferQueue: a virtqueue whose requests are single buffers from a fixed
// pool, all in one direction — what virtio-rng's request queue and
// virtio-console's receive and transmit queues are. The engine above it
// decides what goes in the buffers; this class keeps the pool, adds and
// completes requests, kicks, and handles the device failing.
//
//   id = q->Acquire();               // a free buffer (nullopt: none)
//   fill q->buffer(*id) ...; q->Post(*id, length);  ... q->Notify();
//   on_done(id, len) later: the buffer is the engine's again, to Post again
//   or Release. on_done may call any method, Abort included.
//
// - Untrusted device: SplitQueue checks the ring; a used length above the
//   posted length breaks the queue (SplitQueue), and on_done gets the EIO.
// - Quiesce/Unquiesce: Post holds buffers back while quiesced (they go out
//   at Unquiesce, in order); `drained` runs once none is in the device.
// - Abort fails every buffer in the device with an EIO naming the reason;
//   Post fails from then on.
//
// Memory: `memory` (MemoryFor bytes, page-aligned, reachable by the device)
// and `queue` belong to the caller and outlive the BufferQueue.
// Threading: every method and every on_done run on the driver's dispatcher.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "runtime/error.h"
#include "virtio/split_queue.h"

namespace trellis::virtio {

struct BufferQueueOptions {
  // Names the queue in errors: "virtio-console at /run/c.sock transmitq".
  std::string name;
  // true: the device writes the buffers (receive); false: it reads them.
  bool device_writes = true;
  uint32_t buffers = 16;
  uint32_t buffer_size = 4096;
};

class BufferQueue {
 public:
  using Clock = std::chrono::steady_clock;
  // Buffer `id` came back: `length` bytes written by the device (for a
  // device-writable buffer), or the error that failed it.
  using OnDone = std::function<void(size_t id, Result<uint32_t> length)>;

  static size_t MemoryFor(const BufferQueueOptions& options);

  // Errors: kInvalidArgument for no buffers, or too little or misaligned
  // memory.
  static Result<std::unique_ptr<BufferQueue>> Create(BufferQueueOptions options, SplitQueue* queue,
                                                     RingMemory memory, std::function<void()> kick,
                                                     OnDone on_done);

  // A free buffer, or nullopt when all are posted or held.
  std::optional<size_t> Acquire();
  // Gives an acquired buffer back without posting it.
  void Release(size_t id);
  std::span<std::byte> buffer(size_t id) { return slots_[id].host; }
  uint32_t buffer_size() const { return options_.buffer_size; }

  // Makes acquired buffer `id` available to the device with `length` bytes
  // (1..buffer_size). Call Notify after a batch.
  // Errors: kDataLoss (EIO) once aborted or the queue broke; the buffer is
  // free again.
  Result<void> Post(size_t id, uint32_t length);
  // Kicks the device if it wants a kick for what was posted.
  void Notify();

  // The device used buffers: completes them (on_done for each).
  void OnUsed();
  void Abort(const std::string& reason);
  bool aborted() const { return aborted_.has_value(); }
  const std::string& name() const { return options_.name; }

  void Quiesce(std::move_only_function<void()> drained);
  void Unquiesce();

  size_t in_device() const { return in_device_; }
  // When the oldest buffer in the device was posted (a stall watchdog's
  // question; not meaningful for receive queues, which wait for input).
  std::optional<Clock::time_point> oldest_in_device() const;

 private:
  enum class State : uint8_t { kFree, kHeld, kHeldBack, kInDevice };
  struct Slot {
    std::span<std::byte> host;
    uint64_t device_address = 0;
    uint32_t length = 0;
    State state = State::kFree;
    Clock::time_point posted;
  };

  BufferQueue(BufferQueueOptions options, SplitQueue* queue, std::function<void()> kick,
              OnDone on_done)
      : options_(std::move(options)),
        queue_(queue),
        kick_(std::move(kick)),
        on_done_(std::move(on_done)) {}
  Result<void> AddToRing(size_t id);
  void Completed(size_t id, Result<uint32_t> length);
  // Fails what is in the device and what was held back, after an Abort.
  void FailAll();
  void MaybeDrained();

  const BufferQueueOptions options_;
  SplitQueue* const queue_;
  const std::function<void()> kick_;
  const OnDone on_done_;
  std::vector<Slot> slots_;
  std::vector<size_t> free_;
  std::deque<size_t> held_back_;  // Posted while quiesced, in order.
  size_t in_device_ = 0;
  bool quiesced_ = false;
  bool polling_ = false;  // Inside OnUsed's poll (on_done may Abort).
  std::optional<std::string> aborted_;
  std::move_only_function<void()> drained_;
};

}  // namespace trellis::virtio
