// virtio_bench: 4 KiB random reads of one file at depth 1 and 32, side by
// side in one run (docs/performance.md has the figures and the goal):
//
//   UringBlock/depth:D  BlockFile, uring-block's engine, in-process, O_DIRECT
//   VirtioBlk/depth:D   BlkDevice, virtio-blk's engine, in-process, over a
//                       real qemu-storage-daemon exporting the same file with
//                       vhost-user-blk (cache.direct=on, aio=io_uring)
//
// Both engines run on a Runtime in this process, so the comparison is the
// device path: io_uring on the file against virtqueues in shared memory to
// a backend process that does the io_uring itself.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <future>
#include <optional>

#include "drivers/uring-block/block_file.h"
#include "drivers/virtio-blk/blk_device.h"
#include "runtime/runtime.h"
#include "tests/bench/block_load.h"
#include "virtio/vhost_user/testing/storage_daemon.h"

namespace trellis {
namespace {

using bench::InProcessLoad;
using bench::kBlock;
using bench::RunTime;
using bench::TestFile;
using vhost_user::testing::StorageDaemon;

// A runtime and a dispatcher for one engine; `make` runs on the dispatcher.
template <typename Engine>
struct Rig {
  std::unique_ptr<Runtime> runtime;
  Dispatcher dispatcher;
  std::unique_ptr<Engine> engine;

  template <typename Make>
  Result<void> Start(Make make) {
    auto created = Runtime::Create({.threads = 2, .name = "bench"});
    if (!created) return Fail(created.error());
    runtime = std::move(*created);
    dispatcher = Dispatcher::Create(*runtime, {.name = "bench"});
    std::promise<Result<std::unique_ptr<Engine>>> made;
    (void)dispatcher.Post([&] { made.set_value(make(runtime->reactor(), dispatcher.borrow())); });
    auto result = made.get_future().get();
    if (!result) return Fail(result.error());
    engine = std::move(*result);
    return Ok();
  }
  ~Rig() {
    if (!engine) return;
    std::promise<void> gone;
    (void)dispatcher.Post([&] {
      engine.reset();
      gone.set_value();
    });
    gone.get_future().wait();
  }
};

void RunLoad(benchmark::State& state, BlockProtocol& block, Dispatcher& dispatcher) {
  for (auto _ : state) {
    InProcessLoad load(block, dispatcher.borrow(), static_cast<int>(state.range(0)),
                       TestFile::Get().blocks());
    load.Go(RunTime()).Report(state);
  }
}

void BM_UringBlock(benchmark::State& state) {
  Rig<uring_block::BlockFile> rig;
  auto started = rig.Start([](Reactor& reactor, UnownedDispatcher dispatcher) {
    return uring_block::BlockFile::Open(
        reactor, dispatcher,
        {.path = TestFile::Get().path(), .block_size = kBlock, .direct = true, .queue_depth = 64});
  });
  if (!started) {
    state.SkipWithError(started.error().ToString().c_str());
    return;
  }
  RunLoad(state, *rig.engine, rig.dispatcher);
}

// The daemon's --blockdev options after the file name
// (TRELLIS_BENCH_BLOCKDEV overrides, e.g. ",cache.direct=on,aio=native").
std::string BlockdevOptions() {
  const char* env = std::getenv("TRELLIS_BENCH_BLOCKDEV");
  return env != nullptr ? env : ",cache.direct=on,aio=io_uring";
}

// virtio-blk over a qemu-storage-daemon exporting the same file; with
// `poll_ns`, from an iothread that busy-polls that long before sleeping.
void RunVirtioBlk(benchmark::State& state, std::optional<uint64_t> poll_ns) {
  if (!StorageDaemon::Available()) {
    state.SkipWithError(StorageDaemon::kMissing);
    return;
  }
  auto daemon = StorageDaemon::Start({.image = TestFile::Get().path(),
                                      .blockdev_options = BlockdevOptions(),
                                      .iothread_poll_ns = poll_ns});
  if (!daemon) {
    state.SkipWithError(daemon.error().ToString().c_str());
    return;
  }
  Rig<virtio_blk::BlkDevice> rig;
  auto started = rig.Start([&](Reactor& reactor, UnownedDispatcher dispatcher) {
    return virtio_blk::BlkDevice::Connect(
        reactor, dispatcher, {.socket = (*daemon)->socket_path(), .queue_size = 128},
        [](const std::string& reason) {
          std::fprintf(stderr, "virtio-blk failed: %s\n", reason.c_str());
          std::abort();
        });
  });
  if (!started) {
    state.SkipWithError(started.error().ToString().c_str());
    return;
  }
  RunLoad(state, *rig.engine, rig.dispatcher);
}

void BM_VirtioBlk(benchmark::State& state) { RunVirtioBlk(state, std::nullopt); }
// The daemon's adaptive polling (QEMU's default for iothreads is 32 µs).
void BM_VirtioBlkPolled(benchmark::State& state) { RunVirtioBlk(state, 32768); }

#define DEPTHS ->Arg(1)->Arg(32)->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond)
BENCHMARK(BM_UringBlock) DEPTHS;
BENCHMARK(BM_VirtioBlk) DEPTHS;
BENCHMARK(BM_VirtioBlkPolled) DEPTHS;

}  // namespace
}  // namespace trellis

BENCHMARK_MAIN();
