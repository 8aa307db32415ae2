// Operation and Completion: the handle to one io_uring operation submitted
// through the Reactor, and what its handler receives.
#pragma once

#include <cstdint>
#include <functional>

#include "runtime/error.h"
#include "runtime/io_buffer.h"

namespace trellis {

class Reactor;
namespace internal {
struct OpState;
}

// What an operation's handler receives.
struct Completion {
  // The CQE's result: >= 0 on success (bytes, revents, ...), -errno on error.
  // Timers report 0 when they fire.
  int32_t result = 0;
  uint32_t flags = 0;
  // The buffer the operation owned while in flight, handed back.
  IoBuffer buffer;

  bool ok() const { return result >= 0; }
  // The result as a Result: the value, or an Error made from -result.
  Result<int32_t> status(std::string_view what = "io_uring operation") const {
    if (result >= 0) return result;
    return FailErrno(-result, what);
  }
};

// Runs once on the submitting dispatcher, unless the operation is dropped.
using CompletionHandler = std::move_only_function<void(Completion)>;

// A move-only handle to an in-flight operation.
//
// Destroying (dropping) it cancels the operation: its handler is destroyed
// and never runs. Memory the SQE refers to stays owned by the operation until
// the kernel's completion arrives, so nothing is freed early and nothing
// aborts. Must not outlive its Reactor.
class Operation {
 public:
  Operation() = default;
  Operation(Operation&& other) noexcept { *this = std::move(other); }
  Operation& operator=(Operation&& other) noexcept;
  Operation(const Operation&) = delete;
  Operation& operator=(const Operation&) = delete;
  ~Operation() { Drop(); }

  // Asks the kernel to cancel (IORING_OP_ASYNC_CANCEL). The handler still
  // runs exactly once: with -ECANCELED, or with the real result if the
  // operation completed first. Thread-safe; no-op once completed.
  void Cancel();

  // Lets the operation run to completion without this handle; the handler
  // still runs.
  void Detach() { reactor_ = nullptr; }

  // True until the operation's completion has been taken by the reactor.
  bool pending() const;
  explicit operator bool() const { return reactor_ != nullptr; }

 private:
  friend class Reactor;
  Operation(Reactor* reactor, internal::OpState* op, uint64_t id)
      : reactor_(reactor), op_(op), id_(id) {}
  void Drop();

  Reactor* reactor_ = nullptr;
  internal::OpState* op_ = nullptr;
  uint64_t id_ = 0;
};

}  // namespace trellis
