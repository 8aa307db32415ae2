// What block_bench and virtio_bench share: the file they read, a closed
// loop of random 4 KiB reads on any BlockProtocol, and how a run is
// reported (IOPS, mean and p99 latency in microseconds).
//
// Environment: TRELLIS_BENCH_SECONDS (default 3) per case,
// TRELLIS_BENCH_FILE_MB (default 256) for the file.
#pragma once

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <future>
#include <random>
#include <string>
#include <vector>

#include "runtime/dispatcher.h"
#include "runtime/driver/block_protocol.h"

namespace trellis::bench {

inline constexpr uint32_t kBlock = 4096;

double EnvDouble(const char* name, double fallback);
// How long each case runs.
std::chrono::nanoseconds RunTime();

// Latencies of one run, and how it is reported.
struct Run {
  std::vector<double> latencies_us;
  double seconds = 0;

  void Report(benchmark::State& state) const;
};

// The file every benchmark reads, in /var/tmp (ext4, so O_DIRECT works):
// random bytes written once, so reads hit real blocks. Removed at exit.
class TestFile {
 public:
  static TestFile& Get();
  const std::string& path() const { return path_; }
  uint64_t blocks() const { return blocks_; }
  ~TestFile();

 private:
  TestFile();
  std::string path_;
  uint64_t blocks_ = 0;
};

// Keeps `depth` 4 KiB reads at random 4 KiB offsets below `blocks` (4 KiB
// units, whatever the device's block size) in flight on `block`, from
// `dispatcher`, until the deadline.
class InProcessLoad {
 public:
  InProcessLoad(BlockProtocol& block, UnownedDispatcher dispatcher, int depth, uint64_t blocks);
  Run Go(std::chrono::nanoseconds length);

 private:
  using Clock = std::chrono::steady_clock;
  void Issue(int slot);

  BlockProtocol& block_;
  UnownedDispatcher dispatcher_;
  const int depth_;
  const uint64_t blocks_;
  const uint64_t per_read_;  // Device blocks per 4 KiB read.
  std::vector<std::vector<std::byte>> buffers_;
  std::mt19937_64 rng_{2};
  int in_flight_ = 0;
  Clock::time_point start_, deadline_, end_;
  Run run_;
  std::promise<void> done_;
};

}  // namespace trellis::bench
