#include "tests/bench/bench_manager.h"

#include <cstdio>
#include <cstdlib>

namespace trellis::bench {

std::unique_ptr<manager::Manager> StartManager(const std::filesystem::path& dir,
                                               const std::string& host_binary) {
  manager::ManagerOptions options;
  options.board = dir / "board.json";
  options.runtime_dir = dir / "run";
  options.host_binary = host_binary;
  options.log_events = false;
  auto started = manager::Manager::Start(options);
  if (!started) {
    std::fprintf(stderr, "starting the manager: %s\n", started.error().ToString().c_str());
    std::abort();
  }
  (*started)->WaitForIdle(std::chrono::seconds(60));
  return std::move(*started);
}

manager::v1::BindResponse Bind(manager::Manager& manager, const std::string& node_path,
                               const std::string& protocol) {
  auto stub = manager::v1::DriverManager::NewStub(
      grpc::CreateChannel(manager.endpoint(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  manager::v1::BindRequest request;
  request.set_node_path(node_path);
  request.set_protocol(protocol);
  manager::v1::BindResponse response;
  grpc::Status status = stub->Bind(&context, request, &response);
  if (!status.ok()) {
    std::fprintf(stderr, "Bind(%s, %s): %s\n", node_path.c_str(), protocol.c_str(),
                 status.error_message().c_str());
    std::abort();
  }
  return response;
}

}  // namespace trellis::bench
