// runtime_bench: the runtime against the plain baselines it must match,
// side by side in one run.
//
//   Dispatcher post→run throughput   vs  a plain mutex+condvar thread pool
//   Reactor 4 KiB random reads, QD32 vs  a raw liburing loop, same file
//
// TRELLIS_BENCH_FILE_MB sets the read file's size (default 256).
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <liburing.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "runtime/dispatcher.h"
#include "runtime/runtime.h"

namespace trellis {
namespace {

constexpr size_t kThreads = 2;  // This machine kind has 2 cores.
constexpr int kTasksPerIteration = 10'000;

// ---- Baseline: the textbook pool every C++ engineer has written. ----
class PlainPool {
 public:
  explicit PlainPool(size_t threads) {
    for (size_t i = 0; i < threads; ++i) {
      workers_.emplace_back([this] {
        for (;;) {
          std::function<void()> task;
          {
            std::unique_lock lock(mu_);
            cv_.wait(lock, [&] { return stop_ || !tasks_.empty(); });
            if (stop_ && tasks_.empty()) return;
            task = std::move(tasks_.front());
            tasks_.pop_front();
          }
          task();
        }
      });
    }
  }
  ~PlainPool() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& w : workers_) w.join();
  }
  void Post(std::function<void()> task) {
    {
      std::lock_guard lock(mu_);
      tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stop_ = false;
  std::vector<std::thread> workers_;
};

// Waits until `count` reaches `target` (set by the last task).
struct Countdown {
  std::atomic<int> remaining{0};
  std::promise<void> done;
  void Arm(int n) {
    remaining.store(n);
    done = std::promise<void>();
  }
  void Hit() {
    if (remaining.fetch_sub(1) == 1) done.set_value();
  }
};

void BM_PlainPoolPostRun(benchmark::State& state) {
  PlainPool pool(kThreads);
  Countdown countdown;
  for (auto _ : state) {
    countdown.Arm(kTasksPerIteration);
    auto done = countdown.done.get_future();
    for (int i = 0; i < kTasksPerIteration; ++i) pool.Post([&] { countdown.Hit(); });
    done.wait();
  }
  state.SetItemsProcessed(state.iterations() * kTasksPerIteration);
}

// Posts round-robin to state.range(0) dispatchers on the same thread count.
void BM_DispatcherPostRun(benchmark::State& state) {
  auto runtime = Runtime::Create({.threads = kThreads}).value();
  std::vector<Dispatcher> dispatchers;
  for (int i = 0; i < state.range(0); ++i) {
    dispatchers.push_back(Dispatcher::Create(*runtime, {.name = "bench"}));
  }
  Countdown countdown;
  for (auto _ : state) {
    countdown.Arm(kTasksPerIteration);
    auto done = countdown.done.get_future();
    for (int i = 0; i < kTasksPerIteration; ++i) {
      (void)dispatchers[i % dispatchers.size()].Post([&] { countdown.Hit(); });
    }
    done.wait();
  }
  state.SetItemsProcessed(state.iterations() * kTasksPerIteration);
  dispatchers.clear();
}

// ---- Reactor vs raw liburing: 4 KiB random reads at queue depth 32. ----

constexpr unsigned kBlock = 4096;
constexpr unsigned kDepth = 32;
constexpr int kReadsPerIteration = 8192;

struct ReadFile {
  ReadFile() {
    const char* env = std::getenv("TRELLIS_BENCH_FILE_MB");
    size_t mb = env ? std::strtoul(env, nullptr, 10) : 256;
    size = mb << 20;
    char path[] = "/tmp/trellis-bench-XXXXXX";
    fd = mkstemp(path);
    if (fd < 0) std::abort();
    unlink(path);
    std::vector<char> chunk(1 << 20, 'x');
    for (size_t off = 0; off < size; off += chunk.size()) {
      if (pwrite(fd, chunk.data(), chunk.size(), static_cast<off_t>(off)) < 0) std::abort();
    }
    fsync(fd);
    blocks = size / kBlock;
  }
  ~ReadFile() { close(fd); }
  int fd = -1;
  size_t size = 0;
  size_t blocks = 0;
};

ReadFile& File() {
  static ReadFile file;  // Shared by both read benchmarks: same file, same cache.
  return file;
}

// xorshift64: cheap, deterministic offsets.
struct Rng {
  uint64_t s = 0x9E3779B97F4A7C15ull;
  uint64_t Next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
};

void BM_RawLiburingRandomRead(benchmark::State& state) {
  ReadFile& file = File();
  // Arg 1: an idle runtime lives in the process meanwhile, so the kernel
  // sees the same multi-threaded process the reactor runs in.
  std::unique_ptr<Runtime> idle;
  if (state.range(0) == 1) idle = Runtime::Create({.threads = kThreads}).value();
  io_uring ring;
  if (io_uring_queue_init(kDepth * 2, &ring, 0) != 0) {
    state.SkipWithError("io_uring_queue_init failed");
    return;
  }
  std::vector<void*> buffers(kDepth);
  for (auto& b : buffers) b = std::aligned_alloc(kBlock, kBlock);
  Rng rng;
  for (auto _ : state) {
    int submitted = 0;
    int completed = 0;
    for (unsigned i = 0; i < kDepth; ++i) {
      io_uring_sqe* sqe = io_uring_get_sqe(&ring);
      io_uring_prep_read(sqe, file.fd, buffers[i], kBlock, (rng.Next() % file.blocks) * kBlock);
      sqe->user_data = i;
      ++submitted;
    }
    io_uring_submit(&ring);
    while (completed < kReadsPerIteration) {
      io_uring_cqe* cqe;
      io_uring_wait_cqe(&ring, &cqe);
      unsigned head;
      unsigned seen = 0;
      io_uring_for_each_cqe(&ring, head, cqe) {
        ++seen;
        ++completed;
        if (cqe->res != static_cast<int>(kBlock)) state.SkipWithError("short read");
        if (submitted < kReadsPerIteration) {
          io_uring_sqe* sqe = io_uring_get_sqe(&ring);
          io_uring_prep_read(sqe, file.fd, buffers[cqe->user_data], kBlock,
                             (rng.Next() % file.blocks) * kBlock);
          sqe->user_data = cqe->user_data;
          ++submitted;
        }
      }
      io_uring_cq_advance(&ring, seen);
      io_uring_submit(&ring);
    }
  }
  state.SetItemsProcessed(state.iterations() * kReadsPerIteration);
  for (auto& b : buffers) std::free(b);
  io_uring_queue_exit(&ring);
}

// The same loop as a driver writes it: an object owned by its dispatcher
// starts kDepth reads; each completion handler captures only `this` (inline
// on the reactor thread while the dispatcher is idle) and starts the next
// read with the same buffer. Buffers are allocated once, as in the raw loop.
class RandomReader {
 public:
  RandomReader(Reactor& reactor, ReadFile& file) : reactor_(reactor), file_(file) {
    for (unsigned i = 0; i < kDepth; ++i) spare_.push_back(IoBuffer::Allocate(kBlock, kBlock));
  }

  // On the dispatcher: runs one batch of kReadsPerIteration reads.
  void Start(std::promise<void>* done) {
    done_ = done;
    submitted_ = 0;
    completed_ = 0;
    while (!spare_.empty()) {
      IoBuffer buffer = std::move(spare_.back());
      spare_.pop_back();
      StartRead(std::move(buffer));
    }
  }
  int errors() const { return errors_; }

 private:
  void StartRead(IoBuffer buffer) {
    ++submitted_;
    auto op = reactor_.Read(file_.fd, (rng_.Next() % file_.blocks) * kBlock, std::move(buffer),
                            [this](Completion c) { OnRead(std::move(c)); });
    if (!op) {
      ++errors_;
      return;
    }
    op->Detach();
  }

  void OnRead(Completion c) {
    if (c.result != static_cast<int>(kBlock)) ++errors_;
    if (submitted_ < kReadsPerIteration) {
      StartRead(std::move(c.buffer));
    } else {
      spare_.push_back(std::move(c.buffer));
    }
    if (++completed_ == kReadsPerIteration) done_->set_value();
  }

  Reactor& reactor_;
  ReadFile& file_;
  // Touched only on the reader's dispatcher.
  std::vector<IoBuffer> spare_;
  Rng rng_;
  int submitted_ = 0;
  int completed_ = 0;
  int errors_ = 0;
  std::promise<void>* done_ = nullptr;
};

void BM_ReactorRandomRead(benchmark::State& state) {
  ReadFile& file = File();
  auto runtime = Runtime::Create({.threads = kThreads, .reactor = {.entries = kDepth * 2}}).value();
  Dispatcher dispatcher = Dispatcher::Create(*runtime, {.name = "bench"});
  RandomReader reader(runtime->reactor(), file);
  for (auto _ : state) {
    std::promise<void> done;
    auto finished = done.get_future();
    (void)dispatcher.Post([&] { reader.Start(&done); });
    finished.wait();
  }
  std::promise<int> errors;
  (void)dispatcher.Post([&] { errors.set_value(reader.errors()); });
  if (errors.get_future().get() != 0) state.SkipWithError("read errors");
  state.SetItemsProcessed(state.iterations() * kReadsPerIteration);
}

BENCHMARK(BM_PlainPoolPostRun)->UseRealTime();
BENCHMARK(BM_DispatcherPostRun)->Arg(1)->Arg(8)->UseRealTime();
BENCHMARK(BM_RawLiburingRandomRead)->Arg(0)->Arg(1)->UseRealTime();
BENCHMARK(BM_ReactorRandomRead)->UseRealTime();

}  // namespace
}  // namespace trellis

BENCHMARK_MAIN();
