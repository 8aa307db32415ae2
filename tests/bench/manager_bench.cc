// manager_bench: from manager start to every driver started, for N echo
// drivers spread over 8 colocation groups (8 real trellis-host processes),
// beside the cost of spawning 8 empty processes (/bin/true) in the same run.
#include <benchmark/benchmark.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>

#include "manager/manager.h"

extern char** environ;

namespace trellis {
namespace {

namespace fs = std::filesystem;
constexpr int kHosts = 8;

struct BenchDir {
  BenchDir() {
    std::string pattern = (fs::temp_directory_path() / "trellis-bench-XXXXXX").string();
    path = mkdtemp(pattern.data());
  }
  ~BenchDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path path;
};

// A board of `drivers` echo nodes under root.sys; node i belongs to group i % 8.
void WriteBench(const fs::path& dir, int drivers) {
  fs::create_directories(dir / "drivers");
  fs::copy_file(fs::path(TRELLIS_DRIVER_DIR) / "libecho_driver.so", dir / "drivers/libecho_driver.so",
                fs::copy_options::overwrite_existing);
  for (int g = 0; g < kHosts; ++g) {
    std::ofstream(dir / "drivers" / ("echo-g" + std::to_string(g) + ".json"))
        << R"({"name": "echo-g)" << g << R"(", "binary": "libecho_driver.so",
              "bind": {"accept": [{"key": "bench.group", "values": [{"int_value": )" << g << R"(}]}]},
              "colocation_group": "g)" << g << R"(",
              "exposes": ["trellis.device.v1.Device"]})";
  }
  std::ofstream board(dir / "board.json");
  board << R"({"name": "bench", "driver_dirs": ["drivers"], "nodes": [{"name": "sys", "children": [)";
  for (int i = 0; i < drivers; ++i) {
    board << (i ? "," : "") << R"({"name": "e)" << i << R"(", "properties": [{"key": "bench.group", "int_value": )"
          << (i % kHosts) << "}]}";
  }
  board << "]}]}";
}

void BM_ManagerStartToAllDriversStarted(benchmark::State& state) {
  BenchDir dir;
  WriteBench(dir.path, static_cast<int>(state.range(0)));
  for (auto _ : state) {
    manager::ManagerOptions options;
    options.board = dir.path / "board.json";
    options.runtime_dir = dir.path / "run";
    options.host_binary = TRELLIS_HOST_BINARY;
    options.log_events = false;
    auto manager = manager::Manager::Start(options);
    if (!manager) {
      state.SkipWithError(manager.error().ToString().c_str());
      return;
    }
    if (!(*manager)->WaitForIdle(std::chrono::seconds(60))) state.SkipWithError("not idle");
    state.PauseTiming();  // Shutting down is not part of the figure.
    manager->reset();
    state.ResumeTiming();
  }
  state.counters["drivers"] = static_cast<double>(state.range(0));
}

void BM_Spawn8EmptyProcesses(benchmark::State& state) {
  char true_path[] = "/bin/true";
  char* argv[] = {true_path, nullptr};
  for (auto _ : state) {
    pid_t pids[kHosts];
    for (auto& pid : pids) posix_spawn(&pid, true_path, nullptr, nullptr, argv, environ);
    for (pid_t pid : pids) waitpid(pid, nullptr, 0);
  }
}

BENCHMARK(BM_Spawn8EmptyProcesses)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ManagerStartToAllDriversStarted)
    ->Arg(100)
    ->Arg(1000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(5);

}  // namespace
}  // namespace trellis

BENCHMARK_MAIN();
