#include "tests/integration/testing/manager_fixture.h"

#include <stdlib.h>

#include <fstream>
#include <thread>

namespace trellis::testing {

namespace fs = std::filesystem;

TempDir::TempDir() {
  std::string pattern = (fs::temp_directory_path() / "trellis-test-XXXXXX").string();
  char* made = mkdtemp(pattern.data());
  if (made == nullptr) std::abort();
  path_ = made;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string EchoManifest(const std::map<std::string, std::string>& overrides) {
  std::map<std::string, std::string> fields = {
      {"name", "\"echo\""},
      {"binary", "\"libecho_driver.so\""},
      {"bind",
       R"({"accept": [{"key": "trellis.compatible", "values": [{"string_value": "trellis,echo"}]}]})"},
      {"host_restart_on_crash", "true"},
      {"max_restarts", "3"},
      {"power", R"({"managed_dispatchers": true})"},
      {"exposes", R"(["trellis.device.v1.Device"])"},
  };
  for (const auto& [k, v] : overrides) {
    if (v.empty()) {
      fields.erase(k);
    } else {
      fields[k] = v;
    }
  }
  std::string json = "{";
  for (const auto& [k, v] : fields) json += (json.size() > 1 ? ", " : "") + ("\"" + k + "\": " + v);
  return json + "}";
}

std::string Board(const std::string& children_json) {
  return R"({"name": "test", "nodes": [{"name": "sys", "children": [)" + children_json +
         R"(]}], "driver_dirs": ["drivers"]})";
}

std::string EchoNode(const std::string& name, int depth, int children,
                     const std::string& extra_properties) {
  return R"({"name": ")" + name +
         R"(", "properties": [{"key": "trellis.compatible", "string_value": "trellis,echo"},)" +
         R"({"key": "echo.depth", "int_value": )" + std::to_string(depth) +
         R"(}, {"key": "echo.children", "int_value": )" + std::to_string(children) + "}" +
         (extra_properties.empty() ? "" : ", " + extra_properties) + "]}";
}

void ManagerFixture::StartManager(const std::string& board_json,
                                  const std::map<std::string, std::string>& manifests,
                                  std::function<void(manager::ManagerOptions&)> tweak) {
  fs::path drivers = dir_.path() / "drivers";
  fs::create_directories(drivers);
  const std::pair<const char*, const char*> libraries[] = {
      {TRELLIS_DRIVER_DIR, "libecho_driver.so"},
      {TRELLIS_DRIVER_DIR, "libalarm_driver.so"},
      {TRELLIS_DRIVER_DIR, "liburing_block_driver.so"},
      {TRELLIS_DRIVER_DIR, "libgpt_driver.so"},
      {TRELLIS_DRIVER_DIR, "libipc_driver.so"},
      {TRELLIS_DRIVER_DIR, "libvirtio_blk_driver.so"},
      {TRELLIS_DRIVER_DIR, "libvirtio_rng_driver.so"},
      {TRELLIS_DRIVER_DIR, "libvirtio_console_driver.so"},
      {TRELLIS_TEST_DRIVER_DIR, "libmisuse_driver.so"},
      {TRELLIS_TEST_DRIVER_DIR, "libpower_probe_driver.so"},
  };
  for (const auto& [dir, lib] : libraries) {
    fs::copy_file(fs::path(dir) / lib, drivers / lib, fs::copy_options::overwrite_existing);
  }
  for (const auto& [file, json] : manifests) std::ofstream(drivers / file) << json;
  std::ofstream(dir_.path() / "board.json") << board_json;

  manager::ManagerOptions options;
  options.board = dir_.path() / "board.json";
  options.runtime_dir = dir_.path() / "run";
  options.host_binary = TRELLIS_HOST_BINARY;
  options.restart_backoff = std::chrono::milliseconds(10);
  options.log_events = false;
  if (tweak) tweak(options);
  auto manager = manager::Manager::Start(options);
  ASSERT_TRUE(manager.has_value()) << manager.error().ToString();
  manager_ = std::move(*manager);
  ASSERT_TRUE(manager_->WaitForIdle(std::chrono::seconds(30)));
  stub_ = manager::v1::DriverManager::NewStub(
      grpc::CreateChannel(manager_->endpoint(), grpc::InsecureChannelCredentials()));
}

void ManagerFixture::StopManager() {
  stub_.reset();
  manager_.reset();
}

std::vector<node::v1::NodeInfo> ManagerFixture::Nodes() {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  manager::v1::ListNodesRequest request;
  manager::v1::ListNodesResponse response;
  grpc::Status status = stub_->ListNodes(&context, request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return {response.nodes().begin(), response.nodes().end()};
}

std::optional<node::v1::NodeInfo> ManagerFixture::FindNode(const std::string& path) {
  for (auto& node : Nodes()) {
    if (node.path() == path) return node;
  }
  return std::nullopt;
}

bool ManagerFixture::WaitUntil(const std::function<bool()>& pred,
                               std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

bool ManagerFixture::WaitForNodeState(const std::string& path, node::v1::NodeState state,
                                      std::chrono::milliseconds timeout) {
  return WaitUntil(
      [&] {
        auto node = FindNode(path);
        return node && node->state() == state;
      },
      timeout);
}

pid_t ManagerFixture::HostPid(const std::string& host_id) {
  grpc::ClientContext context;
  manager::v1::ListHostsRequest request;
  manager::v1::ListHostsResponse response;
  EXPECT_TRUE(stub_->ListHosts(&context, request, &response).ok());
  for (const auto& host : response.hosts()) {
    if (host.host_id() == host_id) return static_cast<pid_t>(host.pid());
  }
  return -1;
}

ManagerFixture::Bound ManagerFixture::BindDevice(const std::string& path) {
  grpc::ClientContext context;
  manager::v1::BindRequest request;
  request.set_node_path(path);
  request.set_protocol("trellis.device.v1.Device");
  manager::v1::BindResponse response;
  grpc::Status status = stub_->Bind(&context, request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  Bound bound;
  bound.token = response.token();
  bound.endpoint = response.endpoint();
  bound.device = device::v1::Device::NewStub(
      grpc::CreateChannel(response.endpoint(), grpc::InsecureChannelCredentials()));
  return bound;
}

std::string ShippedManifest(const std::string& name) {
  std::ifstream in(fs::path(TRELLIS_MANIFEST_DIR) / name);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string PropertyText(const node::v1::NodeInfo& node, const std::string& key) {
  for (const auto& p : node.properties()) {
    if (p.key() == key)
      return p.has_string_value() ? p.string_value() : std::to_string(p.int_value());
  }
  return "<none>";
}

std::unique_ptr<grpc::ClientContext> ManagerFixture::WithToken(const std::string& token,
                                                               std::chrono::milliseconds timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->AddMetadata("trellis-token", token);
  context->set_deadline(std::chrono::system_clock::now() + timeout);
  return context;
}

}  // namespace trellis::testing
