#include "tests/integration/testing/power_fixture.h"

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string_view>
#include <thread>

#include "runtime/rpc/status.h"

namespace trellis::testing {

std::string ProbeManifest(const std::string& name, const std::string& compatible,
                          const std::string& group, bool wake_capable, int timeout_ms) {
  std::string t = std::to_string(timeout_ms);
  return R"({"name": ")" + name + R"(", "binary": "libpower_probe_driver.so",)" +
         R"( "bind": {"accept": [{"key": "trellis.compatible", "values": [{"string_value": ")" +
         compatible + R"("}]}]},)" + R"( "colocation_group": ")" + group + R"(",)" +
         R"( "host_restart_on_crash": true, "max_restarts": 100,)" +
         R"( "power": {"managed_dispatchers": true, "suspend_timeout_ms": )" + t +
         R"(, "resume_timeout_ms": )" + t +
         (wake_capable ? R"(, "wake_capable": true)" : "") + "}," +
         R"( "exposes": ["trellis.device.v1.Device", "trellis.alarm.v1.Alarm"],)"
         R"( "access": {"uids": [0]}})";
}

std::string StringProperty(const std::string& key, const std::string& value) {
  return R"({"key": ")" + key + R"(", "string_value": ")" + value + R"("})";
}

std::string ProbeNode(const std::string& name, const std::string& compatible, int depth,
                      int children, const std::string& extra_properties) {
  return R"({"name": ")" + name + R"(", "properties": [)" +
         StringProperty("trellis.compatible", compatible) +
         R"(, {"key": "probe.depth", "int_value": )" + std::to_string(depth) +
         R"(}, {"key": "probe.children", "int_value": )" + std::to_string(children) + "}" +
         (extra_properties.empty() ? "" : ", " + extra_properties) + "]}";
}

std::string AlarmManifest() {
  return R"({"name": "alarm", "binary": "libalarm_driver.so",)"
         R"( "bind": {"accept": [{"key": "trellis.compatible", "values": [{"string_value": "trellis,alarm"}]}]},)"
         R"( "colocation_group": "alarm", "host_restart_on_crash": true,)"
         R"( "power": {"managed_dispatchers": false, "wake_capable": true},)"
         R"( "exposes": ["trellis.device.v1.Device", "trellis.alarm.v1.Alarm"],)"
         R"( "access": {"uids": [0]}})";
}

std::string AlarmNode() {
  return R"({"name": "alarm", "properties": [)" + StringProperty("trellis.compatible", "trellis,alarm") +
         "]}";
}

bool LongTests() {
  const char* env = std::getenv("TRELLIS_LONG_TESTS");
  return env != nullptr && std::string(env) == "1";
}

std::vector<std::string> ReadLines(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool PollUntil(const std::function<bool()>& pred, std::chrono::steady_clock::time_point deadline) {
  while (true) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

ClientLease::ClientLease(power::v1::Power::Stub& power, const std::string& name) {
  power::v1::AcquireWakeLeaseRequest request;
  request.set_name(name);
  reader_ = power.AcquireWakeLease(&context_, request);
  power::v1::WakeLeaseEvent event;
  granted_ = reader_->Read(&event) && event.has_granted();
}

void ClientLease::Release() {
  if (reader_ == nullptr) return;
  context_.TryCancel();
  (void)reader_->Finish();
  reader_.reset();
}

void PowerFixture::StartPowerManager(const std::string& board_json,
                                     const std::map<std::string, std::string>& manifests,
                                     std::function<void(manager::ManagerOptions&)> tweak) {
  StartManager(board_json, manifests, std::move(tweak));
  if (manager_ == nullptr) return;
  for (const Error& error : manager_->load_errors()) ADD_FAILURE() << error.ToString();
  power_ = power::v1::Power::NewStub(
      grpc::CreateChannel(manager_->endpoint(), grpc::InsecureChannelCredentials()));
}

std::future<PowerFixture::SuspendResult> PowerFixture::SuspendAsync(
    power::v1::SuspendRequest request) {
  return std::async(std::launch::async, [this, request] {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    power::v1::SuspendResponse response;
    grpc::Status status = power_->Suspend(&context, request, &response);
    return SuspendResult(status, response);
  });
}

power::v1::StatusResponse PowerFixture::Status() {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  power::v1::StatusResponse response;
  grpc::Status status = power_->Status(&context, {}, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response;
}

bool PowerFixture::AwaitPowerState(power::v1::SystemState state,
                                   std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (Status().state() == state) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

grpc::Status PowerFixture::Resume(const std::string& reason) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  power::v1::ResumeRequest request;
  request.set_reason(reason);
  power::v1::ResumeResponse response;
  return power_->Resume(&context, request, &response);
}

Result<int64_t> PowerFixture::Command(const std::string& path, uint32_t minor, uint64_t arg1,
                                      uint64_t arg2) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto it = bound_.find(path);
    if (it == bound_.end()) it = bound_.emplace(path, BindDevice(path)).first;
    if (it->second.device == nullptr) {
      bound_.erase(it);
      return Fail(ErrorCode::kUnavailable, "cannot bind " + path);
    }
    device::v1::CommandRequest request;
    request.set_minor_num(minor);
    request.set_arg1(arg1);
    request.set_arg2(arg2);
    device::v1::CommandResponse response;
    grpc::Status status =
        it->second.device->Command(WithToken(it->second.token).get(), request, &response);
    if (status.ok()) return response.value();
    // The host restarted: its tokens are gone; bind again.
    bound_.erase(it);
    if (status.error_code() != grpc::StatusCode::UNAUTHENTICATED &&
        status.error_code() != grpc::StatusCode::PERMISSION_DENIED &&
        status.error_code() != grpc::StatusCode::UNAVAILABLE) {
      return Fail(rpc::FromStatus(status, "Command on " + path));
    }
  }
  return Fail(ErrorCode::kUnavailable, "Command on " + path + " failed after rebinding");
}

std::vector<std::string> PowerFixture::BoundNodes(const std::string& prefix) {
  std::vector<std::string> paths;
  for (const auto& node : Nodes()) {
    if (node.state() == node::v1::NODE_STATE_BOUND && node.bound_driver().starts_with(prefix)) {
      paths.push_back(node.path());
    }
  }
  return paths;
}

std::map<std::string, int> PowerFixture::Balance() {
  std::ifstream in(log(), std::ios::binary);
  if (!in) return balance_;
  in.seekg(log_read_);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Probes append whole lines with one write(2); count complete ones only.
  size_t end = text.rfind('\n');
  if (end == std::string::npos) return balance_;
  log_read_ += static_cast<std::streamoff>(end + 1);
  size_t begin = 0;
  while (begin <= end) {
    size_t eol = text.find('\n', begin);
    std::string_view line(text.data() + begin, eol - begin);
    begin = eol + 1;
    size_t space = line.find(' ');
    if (space == std::string_view::npos) continue;
    std::string_view event = line.substr(0, space);
    std::string node(line.substr(space + 1));
    if (event == "start") balance_[node] = 0;
    if (event == "suspend") ++balance_[node];
    if (event == "resume" || event == "resume-lease" || event == "resume-failed") {
      --balance_[node];
      EXPECT_GE(balance_[node], 0) << node << " was resumed without being suspended";
    }
  }
  return balance_;
}

void PowerFixture::ExpectNothingSuspended(const std::string& what) {
  for (const auto& [node, n] : Balance()) EXPECT_EQ(n, 0) << node << " after " << what;
  EXPECT_EQ(Status().state(), power::v1::SYSTEM_STATE_RUNNING) << what;
}

}  // namespace trellis::testing
