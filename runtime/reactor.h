// Reactor: the runtime's io_uring event loop, after OpenVMM's pal_async
// Driver (seed 003) with ringbahn's Drive backpressure (seed 002).
//
// One ring and one reactor thread per Runtime. Any thread may submit; the
// completion handler runs on the dispatcher that submitted (or the one named
// in SubmitOptions). When that dispatcher is idle, the handler runs inline on
// the reactor thread: no cross-thread wake-up on the hot path.
//
// Submission is batched: SQEs prepared during a dispatcher task are submitted
// together when the pool worker (or the reactor thread) finishes its turn.
// SubmitOptions::eager, or submitting from a thread outside the runtime,
// submits at once.
//
// Backpressure: when the in-flight cap (default: the CQ size) is reached or
// the SQ cannot take more, operations wait in a FIFO inside the reactor —
// Submit still returns at once, with no error and no busy loop — and enter
// the ring in order as completions free space.
//
// Names tell the cost: Submit*/Timer/FdReady/... may make a syscall (eager
// submission); Probe never does; Flush does if anything is prepared.
#pragma once

#include <liburing.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <thread>
#include <vector>

#include "runtime/dispatcher.h"
#include "runtime/error.h"
#include "runtime/fixed_resources.h"
#include "runtime/io_buffer.h"
#include "runtime/io_faults.h"
#include "runtime/mutex.h"
#include "runtime/operation.h"
#include "runtime/internal/op_state.h"
#include "runtime/task.h"

namespace trellis {

struct ReactorOptions {
  // SQ entries (rounded up to a power of two by the kernel).
  unsigned entries = 256;
  // Operations allowed in the kernel at once; 0 means the CQ size.
  unsigned max_in_flight = 0;
  // Test-only fault injection on reads and writes (runtime/io_faults.h).
  std::shared_ptr<IoFaults> io_faults;
};

struct SubmitOptions {
  // Where the handler runs; defaults to the dispatcher running this task.
  UnownedDispatcher dispatcher;
  // Memory the SQE refers to; owned by the operation until its CQE arrives,
  // then handed back in Completion::buffer.
  IoBuffer buffer;
  // Submit now instead of at the end of the turn.
  bool eager = false;
  // Deliver the handler as a system task: it runs even while the dispatcher
  // is suspended. For I/O a driver must see finish before its suspend hook
  // completes (the hook runs after the dispatcher stopped starting its
  // ordinary tasks, completions included).
  bool system = false;
};

struct ReactorStats {
  uint64_t submitted = 0;      // Operations accepted by Submit.
  uint64_t completed = 0;      // CQEs taken for operations.
  uint64_t backpressured = 0;  // Operations that waited for ring space.
  uint64_t cancels_sent = 0;   // IORING_OP_ASYNC_CANCEL requests.
  uint64_t enters = 0;         // io_uring_submit calls that submitted SQEs.
  uint32_t in_flight = 0;      // Operations in the kernel now.
  uint32_t queued = 0;         // Operations waiting for space now.
};

class Reactor {
 public:
  // Sets up the ring and starts the reactor thread.
  // Errors: from io_uring_queue_init (kResourceExhausted on ENOMEM/EMFILE,
  // kUnimplemented when io_uring is unavailable).
  static Result<std::unique_ptr<Reactor>> Create(ReactorOptions options);

  // Cancels every operation (handlers do not run), waits for their CQEs, and
  // joins the reactor thread. Every Operation handle must be gone first.
  ~Reactor();
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;

  // Whether the ring supports `opcode` (an IORING_OP_*). Never blocks.
  bool Probe(uint8_t opcode) const;

  // Submits a raw SQE (copied; its user_data is the reactor's). The caller
  // guarantees that memory the SQE references outlives the operation — pass
  // it in options.buffer to have the operation own it.
  // Errors: kFailedPrecondition without a dispatcher or when the reactor or
  // the dispatcher is shut down.
  Result<Operation> Submit(const io_uring_sqe& sqe, CompletionHandler handler,
                           SubmitOptions options = {});

  // A timer firing at `deadline` (monotonic): the handler gets result 0, or
  // -ECANCELED if cancelled.
  Result<Operation> Timer(Clock::time_point deadline, CompletionHandler handler,
                          SubmitOptions options = {});
  // Readiness of any fd: the handler gets the poll revents (one-shot).
  Result<Operation> FdReady(int fd, short events, CompletionHandler handler,
                            SubmitOptions options = {});
  // Readiness of a socket; fails with kInvalidArgument if `fd` is not one.
  // POLLRDHUP is always watched, so a peer hang-up is reported.
  Result<Operation> SocketReady(int fd, short events, CompletionHandler handler,
                                SubmitOptions options = {});
  // Waits for a signal on `fd` (eventfd, timerfd, ...) by reading
  // `read_size` bytes (1..64) into Completion::buffer.
  Result<Operation> Wait(int fd, size_t read_size, CompletionHandler handler,
                         SubmitOptions options = {});
  // Reads buffer.size() bytes at `offset` into `buffer`.
  Result<Operation> Read(int fd, uint64_t offset, IoBuffer buffer, CompletionHandler handler,
                         SubmitOptions options = {});
  // Writes `buffer` at `offset`.
  Result<Operation> Write(int fd, uint64_t offset, IoBuffer buffer, CompletionHandler handler,
                          SubmitOptions options = {});

  // Submits everything prepared so far. Called at the end of each turn by
  // the runtime; cheap (one atomic load) when nothing is prepared.
  void Flush();

  // While one lives, this thread's submissions to `reactor` (null: none)
  // are prepared but not submitted; its destructor submits them together
  // (one io_uring_enter, and one doorbell for a plugged block queue). Pool
  // workers and the reactor thread batch every turn already; a thread from
  // outside the runtime that visits an idle dispatcher inline
  // (UnownedDispatcher::RunOrPost) batches its visit with one.
  class SubmitBatch {
   public:
    explicit SubmitBatch(Reactor* reactor);
    ~SubmitBatch();
    SubmitBatch(const SubmitBatch&) = delete;
    SubmitBatch& operator=(const SubmitBatch&) = delete;

   private:
    Reactor* const reactor_;
    const Reactor* const outer_;  // The batch this one nests in, if any.
  };

  ReactorStats stats() const;
  // The ring's registered file and buffer tables.
  FixedResources& fixed() { return *fixed_; }
  unsigned sq_entries() const { return sq_entries_; }
  unsigned max_in_flight() const { return max_in_flight_; }
  // True on the reactor thread.
  bool IsReactorThread() const;

  // ---- For the runtime: ----
  // Cancels every operation (handlers do not run), waits for their CQEs and
  // joins the reactor thread. Later submissions fail. Idempotent.
  void Stop();
  // Drops every operation submitted from `dispatcher` (see Operation).
  void CancelAllFor(const internal::DispatcherCore* dispatcher);
  // Sets which threads may defer submission to the end of their turn.
  void SetDeferPredicate(bool (*on_runtime_thread)(const void*), const void* arg) {
    defer_pred_ = on_runtime_thread;
    defer_arg_ = arg;
  }

 private:
  friend class Operation;
  struct Ready;  // A completion taken from the CQ, delivered outside the lock.

  Reactor() = default;
  Result<void> Init(ReactorOptions options);
  Result<Operation> SubmitInternal(const io_uring_sqe& sqe, CompletionHandler handler,
                                   SubmitOptions options, internal::OpState::Kind kind,
                                   Clock::time_point deadline);
  void Loop();
  // Submits prepared SQEs (io_uring_enter) if there are any.
  void SubmitLocked() TRELLIS_REQUIRES(mu_);
  // Copies `source` into the ring for `op` (setting user_data and a timer's
  // timespec); false if the SQ is full even after a flush.
  bool PushLocked(internal::OpState* op, const io_uring_sqe& source) TRELLIS_REQUIRES(mu_);
  void PushWaitersLocked() TRELLIS_REQUIRES(mu_);
  // Asks the kernel to cancel an in-flight op.
  void SendCancelLocked(internal::OpState* op) TRELLIS_REQUIRES(mu_);
  internal::OpState* AllocLocked() TRELLIS_REQUIRES(mu_);
  void FreeLocked(internal::OpState* op) TRELLIS_REQUIRES(mu_);
  // Takes a queued op out of the waiter FIFO.
  void UnqueueLocked(internal::OpState* op) TRELLIS_REQUIRES(mu_);
  void Deliver(std::vector<Ready>& ready, bool allow_inline);
  // Lets io_faults_ rewrite and reorder the turn's completions.
  void InjectFaults(std::vector<Ready>& ready);
  // Delivers ready[begin, end) (one dispatcher's system completions).
  void DeliverSystem(internal::DispatcherCore* core, std::vector<Ready>& ready, size_t begin,
                     size_t end, bool allow_inline);
  // Operation's entry points.
  void CancelOp(internal::OpState* op, uint64_t id, bool drop);
  bool IsPending(const internal::OpState* op, uint64_t id) const;

  mutable Mutex mu_;
  io_uring ring_{};
  bool ring_ready_ = false;
  std::unique_ptr<FixedResources> fixed_;
  io_uring_probe* probe_ = nullptr;
  unsigned sq_entries_ = 0;
  unsigned max_in_flight_ = 0;
  std::deque<internal::OpState> slab_ TRELLIS_GUARDED_BY(mu_);
  internal::OpState* free_ TRELLIS_GUARDED_BY(mu_) = nullptr;
  std::deque<internal::OpState*> waiters_ TRELLIS_GUARDED_BY(mu_);
  uint64_t next_id_ TRELLIS_GUARDED_BY(mu_) = 1;
  unsigned in_flight_ TRELLIS_GUARDED_BY(mu_) = 0;
  unsigned control_in_flight_ TRELLIS_GUARDED_BY(mu_) = 0;  // Cancels and wake-ups.
  bool stopping_ TRELLIS_GUARDED_BY(mu_) = false;
  ReactorStats stats_ TRELLIS_GUARDED_BY(mu_);
  // Cancels that found no SQ space; retried after the next reap.
  std::vector<std::pair<internal::OpState*, uint64_t>> cancel_backlog_ TRELLIS_GUARDED_BY(mu_);
  std::atomic<bool> dirty_{false};  // SQEs prepared but not submitted.
  std::shared_ptr<IoFaults> io_faults_;  // Test-only; touched on the reactor thread.
  std::vector<size_t> fault_order_;      // Scratch for io_faults_->Reorder.
  bool (*defer_pred_)(const void*) = nullptr;
  const void* defer_arg_ = nullptr;
  std::thread thread_;
};

}  // namespace trellis
