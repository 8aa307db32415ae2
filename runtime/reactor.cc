#include "runtime/reactor.h"

#include <poll.h>
#include <pthread.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "runtime/internal/dispatcher_core.h"
#include "runtime/internal/op_state.h"

namespace trellis {

using internal::DispatcherCore;
using internal::OpState;

namespace {

// user_data of control SQEs; op records are pointers and never this small.
constexpr uint64_t kCancelTag = 1;
constexpr uint64_t kWakeTag = 2;

[[gnu::tls_model("initial-exec")]] thread_local const Reactor* tls_reactor = nullptr;
// The reactor this thread's SubmitBatch defers submissions to, if any.
[[gnu::tls_model("initial-exec")]] thread_local const Reactor* tls_batching = nullptr;

__kernel_timespec ToTimespec(Clock::time_point deadline) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch());
  if (ns.count() < 0) ns = std::chrono::nanoseconds(0);
  __kernel_timespec ts{};
  ts.tv_sec = ns.count() / 1'000'000'000;
  ts.tv_nsec = ns.count() % 1'000'000'000;
  return ts;
}

}  // namespace

// A completion taken from the CQ under the lock, delivered outside it.
struct Reactor::Ready {
  CompletionHandler handler;   // Empty if the operation was dropped.
  DispatcherCore* dispatcher;  // Alive until its OpsFinished.
  Completion completion;
  bool system = false;  // Deliver as a system task.
  uint8_t opcode = 0;
};

namespace {

// Reads and writes, the operations IoFaults may rewrite; 0 when neither.
int TransferDirection(uint8_t opcode) {
  switch (opcode) {
    case IORING_OP_READ:
    case IORING_OP_READV:
    case IORING_OP_READ_FIXED:
      return 1;
    case IORING_OP_WRITE:
    case IORING_OP_WRITEV:
    case IORING_OP_WRITE_FIXED:
      return -1;
    default:
      return 0;
  }
}

}  // namespace

Result<std::unique_ptr<Reactor>> Reactor::Create(ReactorOptions options) {
  std::unique_ptr<Reactor> reactor(new Reactor());
  TRELLIS_TRY(reactor->Init(options), "while creating the io_uring reactor");
  return reactor;
}

Result<void> Reactor::Init(ReactorOptions options) {
  if (options.entries == 0) {
    return Fail(ErrorCode::kInvalidArgument, "reactor needs at least one SQ entry");
  }
  io_uring_params params{};
  params.flags = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN;
  int r = io_uring_queue_init_params(options.entries, &ring_, &params);
  if (r == -EINVAL) {  // Older kernel: plain ring.
    params = io_uring_params{};
    r = io_uring_queue_init_params(options.entries, &ring_, &params);
  }
  if (r < 0) {
    if (r == -ENOSYS) return Fail(ErrorCode::kUnimplemented, "io_uring is not available");
    return FailErrno(-r, "io_uring_queue_init");
  }
  ring_ready_ = true;
  fixed_ = std::make_unique<FixedResources>(&ring_);
  probe_ = io_uring_get_probe_ring(&ring_);
  sq_entries_ = params.sq_entries;
  unsigned cq_entries = params.cq_entries;
  io_faults_ = std::move(options.io_faults);
  max_in_flight_ =
      options.max_in_flight == 0 ? cq_entries : std::min(options.max_in_flight, cq_entries);
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "trellis-reactor");
    tls_reactor = this;
    Loop();
  });
  return Ok();
}

Reactor::~Reactor() {
  Stop();
  if (probe_ != nullptr) io_uring_free_probe(probe_);
  fixed_.reset();
  if (ring_ready_) io_uring_queue_exit(&ring_);
}

void Reactor::Stop() {
  std::vector<CompletionHandler> dead;
  std::vector<Ready> ready;
  {
    MutexLock lock(mu_);
    if (stopping_ || !thread_.joinable()) return;
    stopping_ = true;
    for (OpState& op : slab_) {
      if (op.phase == OpState::Phase::kFree) continue;
      dead.push_back(std::move(op.handler));
      op.handler = nullptr;
      if (op.phase == OpState::Phase::kQueued) {
        UnqueueLocked(&op);
        ready.push_back(Ready{nullptr, op.dispatcher, Completion{-ECANCELED, 0, {}}});
        FreeLocked(&op);
      } else {
        SendCancelLocked(&op);
      }
    }
    // Wake the loop so that it sees stopping_.
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) {
      SubmitLocked();
      sqe = io_uring_get_sqe(&ring_);
    }
    if (sqe != nullptr) {
      io_uring_prep_nop(sqe);
      sqe->user_data = kWakeTag;
      ++control_in_flight_;
      dirty_.store(true, std::memory_order_relaxed);
    }
    SubmitLocked();
  }
  dead.clear();
  Deliver(ready, /*allow_inline=*/false);
  thread_.join();
}

bool Reactor::Probe(uint8_t opcode) const {
  return probe_ != nullptr && io_uring_opcode_supported(probe_, opcode);
}

bool Reactor::IsReactorThread() const { return tls_reactor == this; }

ReactorStats Reactor::stats() const {
  MutexLock lock(mu_);
  ReactorStats s = stats_;
  s.in_flight = in_flight_;
  s.queued = static_cast<uint32_t>(waiters_.size());
  return s;
}

OpState* Reactor::AllocLocked() {
  if (free_ == nullptr) {
    slab_.emplace_back();
    return &slab_.back();
  }
  OpState* op = free_;
  free_ = op->next_free;
  op->next_free = nullptr;
  return op;
}

void Reactor::FreeLocked(OpState* op) {
  op->id.store(0, std::memory_order_release);
  op->phase = OpState::Phase::kFree;
  op->kind = OpState::Kind::kRaw;
  op->cancel_sent = false;
  op->handler = nullptr;
  op->dispatcher = nullptr;
  op->buffer = IoBuffer();
  op->next_free = free_;
  free_ = op;
}

void Reactor::UnqueueLocked(OpState* op) {
  auto it = std::find(waiters_.begin(), waiters_.end(), op);
  if (it != waiters_.end()) waiters_.erase(it);
}

void Reactor::SubmitLocked() {
  if (!dirty_.load(std::memory_order_relaxed)) return;
  int r = io_uring_submit(&ring_);
  if (r >= 0) {
    dirty_.store(false, std::memory_order_relaxed);
    if (r > 0) ++stats_.enters;
  }
  // On -EBUSY/-EAGAIN the SQEs stay in the ring and dirty_ stays set: the
  // reactor retries after it has reaped completions.
}

bool Reactor::PushLocked(OpState* op, const io_uring_sqe& source) {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe == nullptr) {
    SubmitLocked();
    sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) return false;
  }
  *sqe = source;
  sqe->user_data = reinterpret_cast<uint64_t>(op);
  if (op->kind == OpState::Kind::kTimer) sqe->addr = reinterpret_cast<uint64_t>(&op->ts);
  op->phase = OpState::Phase::kInFlight;
  ++in_flight_;
  dirty_.store(true, std::memory_order_relaxed);
  return true;
}

void Reactor::PushWaitersLocked() {
  while (!waiters_.empty() && in_flight_ < max_in_flight_) {
    OpState* op = waiters_.front();
    if (!PushLocked(op, op->sqe)) break;
    waiters_.pop_front();
  }
}

void Reactor::SendCancelLocked(OpState* op) {
  if (op->cancel_sent) return;
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe == nullptr) {
    SubmitLocked();
    sqe = io_uring_get_sqe(&ring_);
    // The SQ is empty after a successful submit; if the kernel refused it,
    // the loop retries the cancel after reaping (cancel_sent stays false).
    if (sqe == nullptr) {
      cancel_backlog_.push_back({op, op->id.load(std::memory_order_relaxed)});
      return;
    }
  }
  io_uring_prep_cancel64(sqe, reinterpret_cast<uint64_t>(op), 0);
  sqe->user_data = kCancelTag;
  op->cancel_sent = true;
  ++control_in_flight_;
  ++stats_.cancels_sent;
  dirty_.store(true, std::memory_order_relaxed);
  SubmitLocked();  // Cancels go out at once.
}

Result<Operation> Reactor::SubmitInternal(const io_uring_sqe& sqe, CompletionHandler handler,
                                          SubmitOptions options, OpState::Kind kind,
                                          Clock::time_point deadline) {
  DispatcherCore* core =
      options.dispatcher ? options.dispatcher.core().get() : DispatcherCore::Current();
  if (core == nullptr) {
    return Fail(ErrorCode::kFailedPrecondition,
                "io_uring submission needs a dispatcher: submit from a dispatcher task or "
                "set SubmitOptions::dispatcher");
  }
  TRELLIS_TRY(core->OpStarted(), "while submitting an io_uring operation");
  bool defer = !options.eager && (IsReactorThread() || tls_batching == this ||
                                  (defer_pred_ && defer_pred_(defer_arg_)));
  OpState* op = nullptr;
  uint64_t id = 0;
  {
    MutexLock lock(mu_);
    if (!stopping_) {
      op = AllocLocked();
      id = next_id_++;
      op->id.store(id, std::memory_order_release);
      op->kind = kind;
      op->opcode = sqe.opcode;
      if (kind == OpState::Kind::kTimer) op->ts = ToTimespec(deadline);
      op->handler = std::move(handler);
      op->dispatcher = core;
      op->buffer = std::move(options.buffer);
      op->system = options.system;
      ++stats_.submitted;
      // Straight into the ring when there is room; only a waiting op keeps
      // its own copy of the SQE.
      if (!waiters_.empty() || in_flight_ >= max_in_flight_ || !PushLocked(op, sqe)) {
        op->sqe = sqe;
        op->phase = OpState::Phase::kQueued;
        waiters_.push_back(op);
        ++stats_.backpressured;
      }
      if (!defer) SubmitLocked();
    }
  }
  if (op == nullptr) {
    core->OpsFinished(1);
    return Fail(ErrorCode::kFailedPrecondition, "the reactor is shut down");
  }
  return Operation(this, op, id);
}

Result<Operation> Reactor::Submit(const io_uring_sqe& sqe, CompletionHandler handler,
                                  SubmitOptions options) {
  return SubmitInternal(sqe, std::move(handler), std::move(options), OpState::Kind::kRaw, {});
}

Result<Operation> Reactor::Timer(Clock::time_point deadline, CompletionHandler handler,
                                 SubmitOptions options) {
  io_uring_sqe sqe{};
  io_uring_prep_timeout(&sqe, nullptr, 0, IORING_TIMEOUT_ABS);  // addr set to op->ts.
  return SubmitInternal(sqe, std::move(handler), std::move(options), OpState::Kind::kTimer,
                        deadline);
}

Result<Operation> Reactor::FdReady(int fd, short events, CompletionHandler handler,
                                   SubmitOptions options) {
  io_uring_sqe sqe{};
  io_uring_prep_poll_add(&sqe, fd, static_cast<unsigned>(events));
  return Submit(sqe, std::move(handler), std::move(options));
}

Result<Operation> Reactor::SocketReady(int fd, short events, CompletionHandler handler,
                                       SubmitOptions options) {
  struct stat st {};
  if (fstat(fd, &st) != 0) return FailErrno(errno, "fstat of fd " + std::to_string(fd));
  if (!S_ISSOCK(st.st_mode)) {
    return Fail(ErrorCode::kInvalidArgument, "fd " + std::to_string(fd) + " is not a socket");
  }
  return FdReady(fd, static_cast<short>(events | POLLRDHUP), std::move(handler),
                 std::move(options));
}

Result<Operation> Reactor::Wait(int fd, size_t read_size, CompletionHandler handler,
                                SubmitOptions options) {
  if (read_size == 0 || read_size > 64) {
    return Fail(ErrorCode::kInvalidArgument,
                "wait read size must be 1..64 bytes, not " + std::to_string(read_size));
  }
  options.buffer = IoBuffer::Allocate(read_size, 8);
  io_uring_sqe sqe{};
  io_uring_prep_read(&sqe, fd, options.buffer.data(), static_cast<unsigned>(read_size),
                     static_cast<uint64_t>(-1));
  return Submit(sqe, std::move(handler), std::move(options));
}

Result<Operation> Reactor::Read(int fd, uint64_t offset, IoBuffer buffer, CompletionHandler handler,
                                SubmitOptions options) {
  io_uring_sqe sqe{};
  io_uring_prep_read(&sqe, fd, buffer.data(), static_cast<unsigned>(buffer.size()), offset);
  options.buffer = std::move(buffer);
  return Submit(sqe, std::move(handler), std::move(options));
}

Result<Operation> Reactor::Write(int fd, uint64_t offset, IoBuffer buffer,
                                 CompletionHandler handler, SubmitOptions options) {
  io_uring_sqe sqe{};
  io_uring_prep_write(&sqe, fd, buffer.data(), static_cast<unsigned>(buffer.size()), offset);
  options.buffer = std::move(buffer);
  return Submit(sqe, std::move(handler), std::move(options));
}

Reactor::SubmitBatch::SubmitBatch(Reactor* reactor) : reactor_(reactor), outer_(tls_batching) {
  if (reactor_ != nullptr) tls_batching = reactor_;
}

Reactor::SubmitBatch::~SubmitBatch() {
  if (reactor_ == nullptr) return;
  tls_batching = outer_;
  reactor_->Flush();
}

void Reactor::Flush() {
  if (!dirty_.load(std::memory_order_acquire)) return;
  MutexLock lock(mu_);
  SubmitLocked();
}

void Reactor::CancelOp(OpState* op, uint64_t id, bool drop) {
  CompletionHandler dead;
  std::vector<Ready> ready;
  {
    MutexLock lock(mu_);
    if (op->id.load(std::memory_order_relaxed) != id) return;  // Already completed.
    if (drop) {
      dead = std::move(op->handler);
      op->handler = nullptr;
    }
    if (op->phase == OpState::Phase::kQueued) {
      UnqueueLocked(op);
      ready.push_back(Ready{std::move(op->handler), op->dispatcher,
                            Completion{-ECANCELED, 0, std::move(op->buffer)}, op->system});
      FreeLocked(op);
    } else {
      SendCancelLocked(op);
    }
  }
  dead = nullptr;  // Destroyed outside the lock.
  Deliver(ready, /*allow_inline=*/false);
}

bool Reactor::IsPending(const OpState* op, uint64_t id) const {
  return op->id.load(std::memory_order_acquire) == id;
}

void Reactor::CancelAllFor(const DispatcherCore* dispatcher) {
  std::vector<CompletionHandler> dead;
  std::vector<Ready> ready;
  {
    MutexLock lock(mu_);
    for (OpState& op : slab_) {
      if (op.phase == OpState::Phase::kFree || op.dispatcher != dispatcher) continue;
      dead.push_back(std::move(op.handler));
      op.handler = nullptr;
      if (op.phase == OpState::Phase::kQueued) {
        UnqueueLocked(&op);
        ready.push_back(Ready{nullptr, op.dispatcher, Completion{-ECANCELED, 0, {}}});
        FreeLocked(&op);
      } else {
        SendCancelLocked(&op);
      }
    }
  }
  dead.clear();
  Deliver(ready, /*allow_inline=*/false);
}

void Reactor::InjectFaults(std::vector<Ready>& ready) {
  for (Ready& r : ready) {
    int direction = TransferDirection(r.opcode);
    if (direction != 0) {
      r.completion.result = io_faults_->Rewrite(direction > 0, r.completion.result);
    }
  }
  fault_order_.resize(ready.size());
  for (size_t i = 0; i < ready.size(); ++i) fault_order_[i] = i;
  io_faults_->Reorder(fault_order_);
  std::vector<Ready> reordered;
  reordered.reserve(ready.size());
  for (size_t i : fault_order_) reordered.push_back(std::move(ready[i]));
  ready.swap(reordered);
}

void Reactor::Deliver(std::vector<Ready>& ready, bool allow_inline) {
  // Completions for one dispatcher that sit together in the batch run in one
  // inline visit: one claim, one settle, one count — not one per CQE.
  for (size_t begin = 0; begin < ready.size();) {
    DispatcherCore* core = ready[begin].dispatcher;
    bool system = ready[begin].system;
    size_t end = begin;
    while (end < ready.size() && ready[end].dispatcher == core && ready[end].system == system)
      ++end;
    if (system) {
      DeliverSystem(core, ready, begin, end, allow_inline);
    } else {
      bool inlined = allow_inline && core->TryEnterInline();
      for (size_t i = begin; i < end; ++i) {
        Ready& r = ready[i];
        if (!r.handler) continue;
        if (inlined && !core->stop_requested()) {
          r.handler(std::move(r.completion));
          r.handler = nullptr;
        } else {
          core->Deliver(
              [handler = std::move(r.handler), completion = std::move(r.completion)]() mutable {
                handler(std::move(completion));
              });
        }
      }
      if (inlined) core->ExitInline();
    }
    core->OpsFinished(end - begin);  // May destroy `core`.
    begin = end;
  }
  ready.clear();
}

void Reactor::DeliverSystem(DispatcherCore* core, std::vector<Ready>& ready, size_t begin,
                            size_t end, bool allow_inline) {
  for (size_t i = begin; i < end; ++i) {
    Ready& r = ready[i];
    if (!r.handler) continue;
    Task task = [handler = std::move(r.handler), completion = std::move(r.completion)]() mutable {
      handler(std::move(completion));
    };
    if (allow_inline && core->TryRunSystemInline(task)) continue;
    core->DeliverSystem(std::move(task));
  }
}

void Reactor::Loop() {
  std::vector<Ready> ready;
  ready.reserve(64);
  for (;;) {
    Flush();
    io_uring_cqe* cqe = nullptr;
    int r = io_uring_wait_cqe(&ring_, &cqe);
    if (r < 0 && r != -EINTR && r != -EAGAIN && r != -ETIME && r != -EBUSY) {
      std::fprintf(stderr, "trellis reactor: io_uring_wait_cqe: %s\n", strerror(-r));
    }
    bool exit = false;
    {
      MutexLock lock(mu_);
      unsigned head;
      unsigned seen = 0;
      io_uring_for_each_cqe(&ring_, head, cqe) {
        ++seen;
        uint64_t tag = cqe->user_data;
        if (tag == kCancelTag || tag == kWakeTag) {
          --control_in_flight_;
          continue;
        }
        auto* op = reinterpret_cast<OpState*>(tag);
        int32_t result = cqe->res;
        if (op->kind == OpState::Kind::kTimer && result == -ETIME) result = 0;
        ready.push_back(Ready{std::move(op->handler), op->dispatcher,
                              Completion{result, cqe->flags, std::move(op->buffer)}, op->system,
                              op->opcode});
        --in_flight_;
        ++stats_.completed;
        FreeLocked(op);
      }
      io_uring_cq_advance(&ring_, seen);
      // Cancels that found no SQ space earlier.
      std::vector<std::pair<OpState*, uint64_t>> backlog;
      backlog.swap(cancel_backlog_);
      for (auto [op, id] : backlog) {
        if (op->id.load(std::memory_order_relaxed) == id) SendCancelLocked(op);
      }
      PushWaitersLocked();
      exit = stopping_ && in_flight_ == 0 && control_in_flight_ == 0;
    }
    if (io_faults_) InjectFaults(ready);
    Deliver(ready, /*allow_inline=*/true);
    if (exit) return;
  }
}

Operation& Operation::operator=(Operation&& other) noexcept {
  if (this != &other) {
    Drop();
    reactor_ = other.reactor_;
    op_ = other.op_;
    id_ = other.id_;
    other.reactor_ = nullptr;
  }
  return *this;
}

void Operation::Drop() {
  if (reactor_ == nullptr) return;
  if (reactor_->IsPending(op_, id_)) reactor_->CancelOp(op_, id_, /*drop=*/true);
  reactor_ = nullptr;
}

void Operation::Cancel() {
  if (reactor_ != nullptr && reactor_->IsPending(op_, id_)) {
    reactor_->CancelOp(op_, id_, /*drop=*/false);
  }
}

bool Operation::pending() const { return reactor_ != nullptr && reactor_->IsPending(op_, id_); }

}  // namespace trellis
