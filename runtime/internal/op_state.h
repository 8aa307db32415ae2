// OpState: the reactor's record of one operation. Slots live in a slab that
// never shrinks, so a stale Operation handle can safely compare `id` to learn
// that its operation is gone (ids are never reused).
#pragma once

#include <linux/time_types.h>
#include <liburing.h>

#include <atomic>
#include <cstdint>
#include <memory>

#include "runtime/io_buffer.h"
#include "runtime/operation.h"

namespace trellis::internal {

class DispatcherCore;

struct OpState {
  enum class Phase : uint8_t { kFree, kQueued, kInFlight };
  enum class Kind : uint8_t { kRaw, kTimer };

  // 0 while the slot is free. Written under the reactor lock, read without it
  // by handles.
  std::atomic<uint64_t> id{0};
  Phase phase = Phase::kFree;
  Kind kind = Kind::kRaw;
  bool cancel_sent = false;
  uint8_t opcode = 0;  // The SQE's IORING_OP_*.
  // The handler is a system task of its dispatcher (SubmitOptions::system).
  bool system = false;
  // Only while held back by backpressure: copied into the ring when space
  // frees (user_data and a timer's addr are set then).
  io_uring_sqe sqe{};
  CompletionHandler handler;  // Empty once dropped.
  // Kept alive by its own in-flight count (see DispatcherCore::OpStarted).
  DispatcherCore* dispatcher = nullptr;
  IoBuffer buffer;
  __kernel_timespec ts{};  // Timer deadline; must live until submission.
  OpState* next_free = nullptr;
};

}  // namespace trellis::internal
