// PowerFixture: ManagerFixture plus the Power service and the power-probe
// test driver (tests/integration/drivers/power_probe_driver.cc), whose
// suspend/resume hooks can be told to fail or hang and which logs every
// callback to a file.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <future>
#include <ios>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/integration/testing/manager_fixture.h"
#include "trellis/power/v1/power.grpc.pb.h"

namespace trellis::testing {

// Device minors of the power-probe driver.
enum ProbeMinor : uint32_t {
  kProbeSuspendCount = 1,
  kProbeResumeCount = 2,
  kProbeIsSuspended = 3,
  kProbeHoldLease = 4,
  kProbePostTask = 5,
  kProbeHasLease = 6,
  kProbeFireWake = 7,
  kProbeHandOffLease = 8,
  kProbeSuspendMode = 10,
  kProbeResumeMode = 11,
  kProbeStopMode = 12,
};
enum ProbeMode : uint64_t { kModeOk = 0, kModeFail = 1, kModeHang = 2, kModeSlow = 3 };

// A power-probe manifest: `name` binds nodes whose trellis.compatible is
// `compatible`; drivers of one manifest share the host `group`.
std::string ProbeManifest(const std::string& name, const std::string& compatible,
                          const std::string& group, bool wake_capable = false,
                          int timeout_ms = 500);
// A board node bound by the probe with that compatible; the probe adds
// `depth` levels of `children` children below it (same compatible).
std::string ProbeNode(const std::string& name, const std::string& compatible, int depth,
                      int children, const std::string& extra_properties = "");
std::string AlarmManifest();
std::string AlarmNode();
// A string node property.
std::string StringProperty(const std::string& key, const std::string& value);

// Longer runs behind a flag (TRELLIS_LONG_TESTS=1).
bool LongTests();
// The lines of the file at `path` (none if it cannot be read).
std::vector<std::string> ReadLines(const std::filesystem::path& path);
// Calls `pred` every millisecond until it holds (true) or `deadline` passes
// (false); for waits where ManagerFixture::WaitUntil's 10 ms step is coarse.
bool PollUntil(const std::function<bool()>& pred, std::chrono::steady_clock::time_point deadline);

// A client wake lease: held while the AcquireWakeLease stream is open.
// Blocks in the constructor until the first event arrives.
class ClientLease {
 public:
  ClientLease(power::v1::Power::Stub& power, const std::string& name);
  ~ClientLease() { Release(); }
  ClientLease(const ClientLease&) = delete;
  ClientLease& operator=(const ClientLease&) = delete;

  // Whether the first event was `granted`.
  bool granted() const { return granted_; }
  // Cancels the stream; the manager drops the lease when it sees that.
  // Idempotent.
  void Release();

 private:
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<power::v1::WakeLeaseEvent>> reader_;
  bool granted_ = false;
};

class PowerFixture : public ManagerFixture {
 protected:
  using SuspendResult = std::pair<grpc::Status, power::v1::SuspendResponse>;

  // Starts the manager and connects the Power stub.
  void StartPowerManager(const std::string& board_json,
                         const std::map<std::string, std::string>& manifests,
                         std::function<void(manager::ManagerOptions&)> tweak = nullptr);
  power::v1::Power::Stub& power() { return *power_; }

  std::future<SuspendResult> SuspendAsync(power::v1::SuspendRequest request = {});
  power::v1::StatusResponse Status();
  // Polls Status until the system is in `state`.
  bool AwaitPowerState(power::v1::SystemState state,
                       std::chrono::milliseconds timeout = std::chrono::seconds(20));
  grpc::Status Resume(const std::string& reason = "test");

  // Device.Command on the probe at `path`, binding (again) as needed.
  Result<int64_t> Command(const std::string& path, uint32_t minor, uint64_t arg1 = 0,
                          uint64_t arg2 = 0);
  // Every bound node whose driver name starts with `prefix`.
  std::vector<std::string> BoundNodes(const std::string& prefix);

  // The probe log (give probes LogProperty() to write to it).
  std::filesystem::path log() const { return dir_.path() / "probe.log"; }
  std::string LogProperty() const { return StringProperty("probe.log", log().string()); }
  // Per node: suspends minus resumes since its last start, from the log.
  // Reads only what was appended since the last call; fails the test if a
  // node was resumed without being suspended.
  std::map<std::string, int> Balance();
  // Every node's balance is 0 and the system is RUNNING.
  void ExpectNothingSuspended(const std::string& what);

 private:
  std::unique_ptr<power::v1::Power::Stub> power_;
  std::map<std::string, Bound> bound_;
  // Balance() state: bytes of the log already counted, and the counts.
  std::streamoff log_read_ = 0;
  std::map<std::string, int> balance_;
};

}  // namespace trellis::testing
