#include "tests/bench/block_load.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>

namespace trellis::bench {

double EnvDouble(const char* name, double fallback) {
  const char* value = std::getenv(name);
  return value != nullptr ? std::atof(value) : fallback;
}

std::chrono::nanoseconds RunTime() {
  return std::chrono::nanoseconds(
      static_cast<int64_t>(EnvDouble("TRELLIS_BENCH_SECONDS", 3) * 1e9));
}

void Run::Report(benchmark::State& state) const {
  std::vector<double> sorted = latencies_us;
  std::sort(sorted.begin(), sorted.end());
  double sum = 0;
  for (double v : sorted) sum += v;
  size_t n = std::max<size_t>(sorted.size(), 1);
  state.counters["IOPS"] = static_cast<double>(sorted.size()) / seconds;
  state.counters["lat_us"] = sum / static_cast<double>(n);
  state.counters["p99_us"] = sorted.empty() ? 0 : sorted[std::min(n - 1, n * 99 / 100)];
  state.SetIterationTime(seconds);
}

TestFile& TestFile::Get() {
  static TestFile file;
  return file;
}

TestFile::TestFile() {
  std::string pattern = "/var/tmp/trellis-block-bench-XXXXXX";
  int fd = ::mkstemp(pattern.data());
  if (fd < 0) std::abort();
  path_ = pattern;
  blocks_ = static_cast<uint64_t>(EnvDouble("TRELLIS_BENCH_FILE_MB", 256)) * 1024 * 1024 / kBlock;
  std::vector<char> chunk(1 << 20);
  std::mt19937_64 rng(1);
  for (auto& c : chunk) c = static_cast<char>(rng());
  for (uint64_t written = 0; written < blocks_ * kBlock; written += chunk.size()) {
    if (::write(fd, chunk.data(), chunk.size()) != static_cast<ssize_t>(chunk.size())) std::abort();
  }
  ::fsync(fd);
  ::close(fd);
}

TestFile::~TestFile() { ::unlink(path_.c_str()); }

InProcessLoad::InProcessLoad(BlockProtocol& block, UnownedDispatcher dispatcher, int depth,
                             uint64_t blocks)
    : block_(block),
      dispatcher_(dispatcher),
      depth_(depth),
      blocks_(blocks),
      per_read_(kBlock / block.Info().block_size),
      buffers_(depth) {
  for (auto& b : buffers_) b.resize(kBlock);
}

Run InProcessLoad::Go(std::chrono::nanoseconds length) {
  start_ = Clock::now();
  deadline_ = start_ + length;
  (void)dispatcher_.Post([this] {
    for (int slot = 0; slot < depth_; ++slot) Issue(slot);
  });
  done_.get_future().wait();
  run_.seconds = std::chrono::duration<double>(end_ - start_).count();
  return std::move(run_);
}

void InProcessLoad::Issue(int slot) {
  ++in_flight_;
  auto issued = Clock::now();
  BlockRequest request{.op = BlockOp::kRead,
                       .offset_blocks = rng_() % blocks_ * per_read_,
                       .length_blocks = per_read_,
                       .data = {buffers_[slot].data(), kBlock}};
  block_.Submit(request, [this, slot, issued](Result<void> result) {
    auto now = Clock::now();
    --in_flight_;
    if (!result) std::abort();
    run_.latencies_us.push_back(std::chrono::duration<double, std::micro>(now - issued).count());
    if (now < deadline_) {
      Issue(slot);
    } else if (in_flight_ == 0) {
      end_ = now;
      done_.set_value();
    }
  });
}

}  // namespace trellis::bench
