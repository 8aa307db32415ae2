// power_bench: system suspend+resume round trip for N no-op power-managed
// drivers (echo) in 8 trellis-host processes, beside the cost of one gRPC
// round trip to one of those hosts (Device.Command presence check) measured
// in the same run; and the wake latency: the alarm fires → every driver
// running again.
//
// Figures are per suspend attempt (one iteration each, many repetitions);
// the p99 comes from the repetitions.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "manager/manager.h"
#include "tests/bench/bench_manager.h"
#include "trellis/device/v1/device.grpc.pb.h"
#include "trellis/power/v1/power.grpc.pb.h"

namespace trellis {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
constexpr int kHosts = 8;

double Seconds(const google::protobuf::Duration& d) {
  return static_cast<double>(d.seconds()) + d.nanos() / 1e9;
}

double P99(const std::vector<double>& v) {
  std::vector<double> sorted = v;
  std::sort(sorted.begin(), sorted.end());
  return sorted[std::min(sorted.size() - 1, static_cast<size_t>(sorted.size() * 0.99))];
}

// One manager with `drivers` echo drivers in 8 hosts and an alarm, kept for
// the whole run (starting 1,000 drivers is not what is measured).
class Rig {
 public:
  static Rig& Get(int drivers) {
    auto& rig = rigs()[drivers];
    if (!rig) rig = std::make_unique<Rig>(drivers);
    return *rig;
  }
  // Stops every manager before main returns.
  static void StopAll() { rigs().clear(); }

  explicit Rig(int drivers) {
    std::string pattern = (fs::temp_directory_path() / "trellis-power-bench-XXXXXX").string();
    dir_ = mkdtemp(pattern.data());
    fs::create_directories(dir_ / "drivers");
    for (const char* lib : {"libecho_driver.so", "libalarm_driver.so"}) {
      fs::copy_file(fs::path(TRELLIS_DRIVER_DIR) / lib, dir_ / "drivers" / lib,
                    fs::copy_options::overwrite_existing);
    }
    for (int g = 0; g < kHosts; ++g) {
      std::ofstream(dir_ / "drivers" / ("echo-g" + std::to_string(g) + ".json"))
          << R"({"name": "echo-g)" << g << R"(", "binary": "libecho_driver.so",
                "bind": {"accept": [{"key": "bench.group", "values": [{"int_value": )" << g
          << R"(}]}]}, "colocation_group": "g)" << g << R"(",
                "power": {"managed_dispatchers": true},
                "exposes": ["trellis.device.v1.Device"], "access": {"uids": [0]}})";
    }
    std::ofstream(dir_ / "drivers" / "alarm.json")
        << R"({"name": "alarm", "binary": "libalarm_driver.so",
              "bind": {"accept": [{"key": "trellis.compatible", "values": [{"string_value": "trellis,alarm"}]}]},
              "colocation_group": "alarm", "power": {"managed_dispatchers": false, "wake_capable": true},
              "exposes": ["trellis.device.v1.Device", "trellis.alarm.v1.Alarm"], "access": {"uids": [0]}})";
    std::ofstream board(dir_ / "board.json");
    board << R"({"name": "bench", "driver_dirs": ["drivers"], "nodes": [{"name": "alarm", "properties": [{"key": "trellis.compatible", "string_value": "trellis,alarm"}]}, {"name": "sys", "children": [)";
    for (int i = 0; i < drivers; ++i) {
      board << (i ? "," : "") << R"({"name": "e)" << i
            << R"(", "properties": [{"key": "bench.group", "int_value": )" << (i % kHosts) << "}]}";
    }
    board << "]}]}";
    board.close();

    manager_ = bench::StartManager(dir_, TRELLIS_HOST_BINARY);
    auto channel = grpc::CreateChannel(manager_->endpoint(), grpc::InsecureChannelCredentials());
    power_ = power::v1::Power::NewStub(channel);
    auto bound = bench::Bind(*manager_, "root.sys.e0", "trellis.device.v1.Device");
    device_token_ = bound.token();
    device_ = device::v1::Device::NewStub(
        grpc::CreateChannel(bound.endpoint(), grpc::InsecureChannelCredentials()));
  }

  ~Rig() {
    manager_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  power::v1::SystemState State() {
    grpc::ClientContext context;
    power::v1::StatusResponse status;
    (void)power_->Status(&context, {}, &status);
    return status.state();
  }

  // One suspend; woken by Resume as soon as it is suspended (wake_after
  // unset) or by the alarm.
  power::v1::SuspendResponse SuspendOnce(std::chrono::milliseconds wake_after) {
    power::v1::SuspendRequest request;
    if (wake_after.count() > 0) request.mutable_wake_after()->set_nanos(wake_after.count() * 1'000'000);
    auto done = std::async(std::launch::async, [&] {
      grpc::ClientContext context;
      power::v1::SuspendResponse response;
      grpc::Status status = power_->Suspend(&context, request, &response);
      if (!status.ok()) std::fprintf(stderr, "power_bench: %s\n", status.error_message().c_str());
      return response;
    });
    if (wake_after.count() == 0) {
      while (State() != power::v1::SYSTEM_STATE_SUSPENDED) std::this_thread::yield();
      grpc::ClientContext context;
      power::v1::ResumeResponse unused;
      (void)power_->Resume(&context, {}, &unused);
    }
    return done.get();
  }

  bool Ping() {
    grpc::ClientContext context;
    context.AddMetadata("trellis-token", device_token_);
    device::v1::CommandRequest request;
    device::v1::CommandResponse response;
    return device_->Command(&context, request, &response).ok();
  }

 private:
  static std::map<int, std::unique_ptr<Rig>>& rigs() {
    static std::map<int, std::unique_ptr<Rig>> all;
    return all;
  }

  fs::path dir_;
  std::unique_ptr<manager::Manager> manager_;
  std::unique_ptr<power::v1::Power::Stub> power_;
  std::unique_ptr<device::v1::Device::Stub> device_;
  std::string device_token_;
};

// Suspend (every driver suspended, children first) + resume (every driver
// running): the governor's own figures, without the client's Resume call.
void BM_SuspendResumeRoundTrip(benchmark::State& state) {
  Rig& rig = Rig::Get(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    auto response = rig.SuspendOnce(0ms);
    if (response.outcome() != power::v1::SuspendResponse::OUTCOME_RESUMED) {
      state.SkipWithError("suspend did not resume cleanly");
      return;
    }
    state.SetIterationTime(Seconds(response.suspend_took()) + Seconds(response.resume_took()));
  }
}

// The alarm fires → every driver running again: the governor's wake_latency,
// from the moment the alarm's timerfd was seen readable in its host (so it
// includes reporting the wake to the manager).
void BM_AlarmWakeToAllRunning(benchmark::State& state) {
  Rig& rig = Rig::Get(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    auto response = rig.SuspendOnce(2ms);
    if (response.wake_driver() != "alarm") {
      state.SkipWithError("the alarm did not wake the system");
      return;
    }
    state.SetIterationTime(Seconds(response.wake_latency()));
  }
}

// Baseline: one gRPC round trip to one of the hosts.
void BM_GrpcRoundTripToOneHost(benchmark::State& state) {
  Rig& rig = Rig::Get(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    if (!rig.Ping()) {
      state.SkipWithError("Device.Command failed");
      return;
    }
  }
}

int Drivers() {
  const char* env = std::getenv("TRELLIS_BENCH_DRIVERS");
  return env ? std::atoi(env) : 1000;
}

const int kDrivers = Drivers();

BENCHMARK(BM_SuspendResumeRoundTrip)
    ->Arg(kDrivers)
    ->UseManualTime()
    ->Iterations(1)
    ->Repetitions(50)
    ->ComputeStatistics("p99", P99)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_AlarmWakeToAllRunning)
    ->Arg(kDrivers)
    ->UseManualTime()
    ->Iterations(1)
    ->Repetitions(50)
    ->ComputeStatistics("p99", P99)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_GrpcRoundTripToOneHost)->Arg(kDrivers)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace trellis

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  trellis::Rig::StopAll();
  benchmark::Shutdown();
  return 0;
}
