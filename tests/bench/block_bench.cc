// block_bench: 4 KiB random reads of one O_DIRECT file, side by side in one
// run (docs/performance.md has the figures and the goals):
//
//   Fio/depth:D        fio, ioengine=io_uring: the kernel's ceiling
//   InProcess/depth:D  BlockFile, uring-block's engine, called in-process
//   Grpc/depth:D       uring-block in a real host, Block.Stream, payload inline,
//                      requests and completions batched per message
//   GrpcPerMessage/depth:D  the same with one request per message
//   Shm/depth:D        the same, payload in a shared memfd region
//   Queue/depth:D      uring-block in a real host through a block queue:
//                      requests in a shared split virtqueue, eventfd
//                      doorbells, no gRPC on the data path
//   GrpcEcho/depth:D   a raw gRPC streaming echo of 4 KiB messages over a Unix
//                      socket: the transport's ceiling for Grpc
//
// Each keeps D reads in flight for TRELLIS_BENCH_SECONDS (default 3) on a
// TRELLIS_BENCH_FILE_MB (default 256) file in /var/tmp, and reports IOPS
// and the mean and p99 latency in microseconds.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <random>

#include "drivers/uring-block/block_file.h"
#include "manager/manager.h"
#include "runtime/mutex.h"
#include "runtime/runtime.h"
#include "tests/bench/bench_manager.h"
#include "tests/bench/block_load.h"
#include "tools/client/block_queue.h"
#include "tools/client/shared_memory.h"
#include "trellis/block/v1/block.grpc.pb.h"

namespace trellis {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using bench::EnvDouble;
using bench::InProcessLoad;
using bench::kBlock;
using bench::Run;
using bench::RunTime;
using bench::TestFile;

// ---- fio ----

void BM_Fio(benchmark::State& state) {
  const auto& file = TestFile::Get();
  double seconds = std::max(1.0, std::chrono::duration<double>(RunTime()).count());
  for (auto _ : state) {
    std::string command = "fio --name=bench --filename=" + file.path() +
                          " --ioengine=io_uring --direct=1 --rw=randread --bs=4k --iodepth=" +
                          std::to_string(state.range(0)) +
                          " --time_based --runtime=" + std::to_string(static_cast<int>(seconds)) +
                          "s --norandommap --output-format=json 2>/dev/null";
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) {
      state.SkipWithError("cannot run fio (Debian package fio)");
      return;
    }
    std::string out;
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof(buf), pipe)) > 0;) out.append(buf, n);
    if (::pclose(pipe) != 0) {
      state.SkipWithError("fio failed (is it installed?)");
      return;
    }
    auto json = nlohmann::json::parse(out, nullptr, false);
    if (json.is_discarded() || !json.contains("jobs")) {
      state.SkipWithError("cannot parse fio's JSON");
      return;
    }
    const auto& read = json["jobs"][0]["read"];
    state.counters["IOPS"] = read["iops"].get<double>();
    state.counters["lat_us"] = read["lat_ns"]["mean"].get<double>() / 1000;
    state.counters["p99_us"] = read["clat_ns"]["percentile"]["99.000000"].get<double>() / 1000;
    state.SetIterationTime(seconds);
  }
}

// ---- In-process BlockFile ----

void BM_InProcess(benchmark::State& state) {
  auto runtime = Runtime::Create({.threads = 2, .name = "bench"});
  if (!runtime) std::abort();
  Dispatcher dispatcher = Dispatcher::Create(**runtime, {.name = "bench"});
  std::promise<Result<std::unique_ptr<uring_block::BlockFile>>> opened;
  (void)dispatcher.Post([&] {
    opened.set_value(uring_block::BlockFile::Open(
        (*runtime)->reactor(), dispatcher.borrow(),
        {.path = TestFile::Get().path(), .block_size = kBlock, .direct = true, .queue_depth = 64}));
  });
  auto file = opened.get_future().get();
  if (!file) {
    state.SkipWithError(file.error().ToString().c_str());
    return;
  }
  for (auto _ : state) {
    InProcessLoad load(**file, dispatcher.borrow(), static_cast<int>(state.range(0)),
                       TestFile::Get().blocks());
    load.Go(RunTime()).Report(state);
  }
  std::promise<void> closed;
  (void)dispatcher.Post([&] {
    file->reset();
    closed.set_value();
  });
  closed.get_future().wait();
  (void)dispatcher.Shutdown();
}

// ---- Through gRPC: a manager and a host with uring-block ----

class HostRig {
 public:
  static HostRig& Get() {
    if (!rig()) rig().reset(new HostRig());
    return *rig();
  }
  // Stops the manager and its host before main returns.
  static void Stop() { rig().reset(); }
  ~HostRig() {
    manager_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  const std::string& endpoint() const { return endpoint_; }
  const std::string& token() const { return token_; }

 private:
  HostRig() {
    std::string pattern = (fs::temp_directory_path() / "trellis-block-bench-XXXXXX").string();
    dir_ = ::mkdtemp(pattern.data());
    fs::create_directories(dir_ / "drivers");
    fs::copy_file(fs::path(TRELLIS_DRIVER_DIR) / "liburing_block_driver.so",
                  dir_ / "drivers" / "liburing_block_driver.so");
    fs::copy_file(fs::path(TRELLIS_SOURCE_DIR) / "manifests/drivers/uring-block.json",
                  dir_ / "drivers" / "uring-block.json");
    std::ofstream(dir_ / "board.json")
        << R"({"name": "bench", "driver_dirs": ["drivers"], "nodes": [{"name": "disk", )"
        << R"("properties": [{"key": "trellis.compatible", "string_value": "trellis,uring-block"},)"
        << R"({"key": "block.path", "string_value": ")" << TestFile::Get().path() << R"("},)"
        << R"({"key": "block.direct", "bool_value": true},)"
        << R"({"key": "block.queue_depth", "int_value": 64}]}]})";
    manager_ = bench::StartManager(dir_, TRELLIS_HOST_BINARY);
    auto bound = bench::Bind(*manager_, "root.disk", "trellis.block.v1.Block");
    endpoint_ = bound.endpoint();
    token_ = bound.token();
  }

  static std::unique_ptr<HostRig>& rig() {
    static std::unique_ptr<HostRig> rig;
    return rig;
  }

  fs::path dir_;
  std::unique_ptr<manager::Manager> manager_;
  std::string endpoint_;
  std::string token_;
};

// How a load sends its requests: every one the depth allows in one message
// (as BlockClient does), or one message per request (the echo's shape).
enum class Messages { kBatched, kOnePerRequest };

// A closed loop on one Block.Stream: `depth` requests in flight, each
// completion answered by the next request. `shm` (optional) gives each
// slot its own 4 KiB of a shared region.
Run StreamLoad(const std::string& endpoint, const std::string& token, int depth,
               std::optional<uint64_t> shm_region, uint64_t blocks, Messages messages) {
  auto stub =
      block::v1::Block::NewStub(grpc::CreateChannel(endpoint, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.AddMetadata("trellis-token", token);
  auto stream = stub->Stream(&context);
  std::mt19937_64 rng(3);
  std::vector<Clock::time_point> issued(depth);
  block::v1::BlockRequestBatch batch;
  auto add = [&](int slot) {
    block::v1::BlockRequest& request = *batch.add_requests();
    request.set_request_id(static_cast<uint64_t>(slot));
    request.mutable_read()->set_offset_blocks(rng() % blocks);
    request.mutable_read()->set_length_blocks(1);
    if (shm_region) {
      request.mutable_shm()->set_region_id(*shm_region);
      request.mutable_shm()->set_offset(uint64_t(slot) * kBlock);
      request.mutable_shm()->set_length(kBlock);
    }
    issued[slot] = Clock::now();
  };
  // Sends what was added; returns how many requests went out.
  auto send = [&]() -> int {
    int n = batch.requests_size();
    bool ok = n == 0 || stream->Write(batch);
    batch.Clear();
    return ok ? n : 0;
  };
  Run run;
  auto start = Clock::now();
  auto deadline = start + RunTime();
  int in_flight = 0;
  for (int slot = 0; slot < depth; ++slot) {
    add(slot);
    if (messages == Messages::kOnePerRequest) in_flight += send();
  }
  in_flight += send();
  block::v1::BlockResponseBatch responses;
  while (in_flight > 0 && stream->Read(&responses)) {
    auto now = Clock::now();
    for (const auto& response : responses.responses()) {
      --in_flight;
      if (response.code() != 0) std::abort();
      int slot = static_cast<int>(response.request_id());
      run.latencies_us.push_back(
          std::chrono::duration<double, std::micro>(now - issued[slot]).count());
      if (now < deadline) {
        add(slot);
        if (messages == Messages::kOnePerRequest) in_flight += send();
      }
    }
    in_flight += send();
  }
  run.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  stream->WritesDone();
  (void)stream->Finish();
  return run;
}

void BM_Grpc(benchmark::State& state) {
  auto& rig = HostRig::Get();
  for (auto _ : state) {
    StreamLoad(rig.endpoint(), rig.token(), static_cast<int>(state.range(0)), std::nullopt,
               TestFile::Get().blocks(), Messages::kBatched)
        .Report(state);
  }
}

void BM_GrpcPerMessage(benchmark::State& state) {
  auto& rig = HostRig::Get();
  for (auto _ : state) {
    StreamLoad(rig.endpoint(), rig.token(), static_cast<int>(state.range(0)), std::nullopt,
               TestFile::Get().blocks(), Messages::kOnePerRequest)
        .Report(state);
  }
}

void BM_Shm(benchmark::State& state) {
  auto& rig = HostRig::Get();
  int depth = static_cast<int>(state.range(0));
  auto shm = client::SharedMemory::Create(uint64_t(depth) * kBlock);
  if (!shm) std::abort();
  auto region = shm->Attach(rig.endpoint(), rig.token());
  if (!region) {
    state.SkipWithError(region.error().ToString().c_str());
    return;
  }
  for (auto _ : state) {
    StreamLoad(rig.endpoint(), rig.token(), depth, *region, TestFile::Get().blocks(),
               Messages::kBatched)
        .Report(state);
  }
}

// A closed loop on a block queue: `depth` reads in flight, each completion
// answered by the next read, submitted together and kicked once per wake.
Run QueueLoad(client::BlockQueue& queue, int depth, uint64_t blocks) {
  std::mt19937_64 rng(3);
  std::vector<Clock::time_point> issued(depth);
  auto add = [&](int slot) {
    issued[slot] = Clock::now();
    auto submitted = queue.Submit({.op = BlockOp::kRead,
                                   .offset_blocks = rng() % blocks,
                                   .length_blocks = 1,
                                   .data_offset = uint64_t(slot) * kBlock},
                                  uint64_t(slot));
    if (!submitted) std::abort();
  };
  Run run;
  auto start = Clock::now();
  auto deadline = start + RunTime();
  for (int slot = 0; slot < depth; ++slot) add(slot);
  queue.Kick();
  std::vector<int> done;
  while (queue.in_flight() > 0) {
    done.clear();
    queue.Wait(
        [&](uint64_t tag, Result<void> result) {
          if (!result) std::abort();
          done.push_back(static_cast<int>(tag));
        },
        10s);
    auto now = Clock::now();
    for (int slot : done) {
      run.latencies_us.push_back(
          std::chrono::duration<double, std::micro>(now - issued[slot]).count());
      if (now < deadline) add(slot);
    }
    queue.Kick();
  }
  run.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return run;
}

void BM_Queue(benchmark::State& state) {
  auto& rig = HostRig::Get();
  int depth = static_cast<int>(state.range(0));
  auto stub = block::v1::Block::NewStub(
      grpc::CreateChannel(rig.endpoint(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.AddMetadata("trellis-token", rig.token());
  block::v1::GetInfoResponse info;
  if (grpc::Status status = stub->GetInfo(&context, {}, &info); !status.ok()) {
    state.SkipWithError(status.error_message().c_str());
    return;
  }
  auto queue = client::BlockQueue::Open(
      rig.endpoint(), rig.token(),
      {.block_size = info.info().block_size(), .block_count = info.info().block_count()},
      {.size = 128, .data_bytes = uint64_t(depth) * kBlock});
  if (!queue) {
    state.SkipWithError(queue.error().ToString().c_str());
    return;
  }
  for (auto _ : state) {
    QueueLoad(**queue, depth, TestFile::Get().blocks()).Report(state);
  }
}

// ---- The transport's ceiling: a raw gRPC streaming echo ----

// Answers every message at once with one message holding a 4 KiB payload
// per request, reading ahead while writes are in flight (as the host's
// Block.Stream does). Fed one request per message, it is the raw echo of
// 4 KiB messages.
class EchoStream final
    : public grpc::ServerBidiReactor<block::v1::BlockRequestBatch, block::v1::BlockResponseBatch> {
 public:
  EchoStream() : payload_(kBlock, 'e') { StartRead(&in_); }

  void OnReadDone(bool ok) override {
    MutexLock lock(mu_);
    if (!ok) {
      reads_done_ = true;
      MaybeFinishLocked();
      return;
    }
    block::v1::BlockResponseBatch responses;
    for (const auto& request : in_.requests()) {
      auto* response = responses.add_responses();
      response->set_request_id(request.request_id());
      response->set_data(payload_);
    }
    out_.push_back(std::move(responses));
    WriteNextLocked();
    StartRead(&in_);
  }
  void OnWriteDone(bool ok) override {
    MutexLock lock(mu_);
    out_.pop_front();
    writing_ = false;
    if (!ok) return;
    WriteNextLocked();
    MaybeFinishLocked();
  }
  void OnDone() override { delete this; }

 private:
  void WriteNextLocked() TRELLIS_REQUIRES(mu_) {
    if (writing_ || out_.empty()) return;
    writing_ = true;
    StartWrite(&out_.front());
  }
  void MaybeFinishLocked() TRELLIS_REQUIRES(mu_) {
    if (reads_done_ && !writing_ && out_.empty() && !finished_) {
      finished_ = true;
      Finish(grpc::Status::OK);
    }
  }

  const std::string payload_;
  block::v1::BlockRequestBatch in_;
  Mutex mu_;
  std::deque<block::v1::BlockResponseBatch> out_ TRELLIS_GUARDED_BY(mu_);
  bool writing_ TRELLIS_GUARDED_BY(mu_) = false;
  bool reads_done_ TRELLIS_GUARDED_BY(mu_) = false;
  bool finished_ TRELLIS_GUARDED_BY(mu_) = false;
};

class EchoService final : public block::v1::Block::CallbackService {
  grpc::ServerBidiReactor<block::v1::BlockRequestBatch, block::v1::BlockResponseBatch>* Stream(
      grpc::CallbackServerContext*) override {
    return new EchoStream();
  }
};

void BM_GrpcEcho(benchmark::State& state) {
  std::string socket =
      (fs::temp_directory_path() / ("trellis-echo-bench-" + std::to_string(::getpid()) + ".sock"))
          .string();
  EchoService service;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + socket, grpc::InsecureServerCredentials());
  builder.RegisterService(&service);
  auto server = builder.BuildAndStart();
  for (auto _ : state) {
    StreamLoad("unix:" + socket, "", static_cast<int>(state.range(0)), std::nullopt, 1,
               Messages::kOnePerRequest)
        .Report(state);
  }
  server->Shutdown(std::chrono::system_clock::now() + 1s);
  ::unlink(socket.c_str());
}

#define DEPTHS ->Arg(1)->Arg(32)->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond)
BENCHMARK(BM_Fio) DEPTHS;
BENCHMARK(BM_InProcess) DEPTHS;
BENCHMARK(BM_Grpc) DEPTHS;
BENCHMARK(BM_GrpcPerMessage) DEPTHS;
BENCHMARK(BM_Shm) DEPTHS;
BENCHMARK(BM_Queue) DEPTHS;
BENCHMARK(BM_GrpcEcho) DEPTHS;

}  // namespace
}  // namespace trellis

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  trellis::HostRig::Stop();
  return 0;
}
