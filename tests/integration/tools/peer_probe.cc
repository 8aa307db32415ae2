// peer_probe: a client process for the peer-identity and flood tests, run
// (often under another uid, through setpriv) by tests/integration/
// peer_identity_test.cc and flood_test.cc.
//
//   peer_probe token-call HOST_ENDPOINT TOKEN
//       Device.Command(minor 0) with TOKEN; prints "code N: message".
//   peer_probe block-info HOST_ENDPOINT TOKEN
//       Block.GetInfo with TOKEN; prints "code N: message".
//   peer_probe bind-call MANAGER_ENDPOINT NODE
//       Binds NODE's Device protocol, then calls Command(minor 0) with the
//       token; prints "bind code N: message" and, if bound, the call's line.
//   peer_probe connections SOCKET_PATH COUNT [churn]
//       Opens COUNT raw connections to SOCKET_PATH, prints "ready", and
//       holds them until killed; with "churn", keeps closing the oldest and
//       opening a new one, as fast as it can, until killed.
//   peer_probe streams MANAGER_ENDPOINT CHANNELS PER_CHANNEL
//       Opens CHANNELS connections with PER_CHANNEL Power.Watch streams
//       each, prints "ready" once every stream got its first event, and
//       holds them until killed.
#include <grpcpp/grpcpp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "trellis/block/v1/block.grpc.pb.h"
#include "trellis/device/v1/device.grpc.pb.h"
#include "trellis/manager/v1/manager.grpc.pb.h"
#include "trellis/power/v1/power.grpc.pb.h"

namespace {

using namespace trellis;

void PrintStatus(const char* what, const grpc::Status& status) {
  std::printf("%scode %d: %s\n", what, static_cast<int>(status.error_code()),
              status.error_message().c_str());
}

grpc::Status TokenCall(const std::string& endpoint, const std::string& token) {
  auto channel = grpc::CreateChannel(endpoint, grpc::InsecureChannelCredentials());
  auto device = device::v1::Device::NewStub(channel);
  grpc::ClientContext context;
  context.AddMetadata("trellis-token", token);
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  device::v1::CommandRequest request;
  request.set_minor_num(0);
  device::v1::CommandResponse response;
  return device->Command(&context, request, &response);
}

grpc::Status BlockInfo(const std::string& endpoint, const std::string& token) {
  auto channel = grpc::CreateChannel(endpoint, grpc::InsecureChannelCredentials());
  auto block = block::v1::Block::NewStub(channel);
  grpc::ClientContext context;
  context.AddMetadata("trellis-token", token);
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  block::v1::GetInfoResponse response;
  return block->GetInfo(&context, {}, &response);
}

int BindCall(const std::string& manager_endpoint, const std::string& node) {
  auto channel = grpc::CreateChannel(manager_endpoint, grpc::InsecureChannelCredentials());
  auto stub = manager::v1::DriverManager::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  manager::v1::BindRequest request;
  request.set_node_path(node);
  request.set_protocol("trellis.device.v1.Device");
  manager::v1::BindResponse response;
  grpc::Status bound = stub->Bind(&context, request, &response);
  PrintStatus("bind ", bound);
  if (bound.ok()) PrintStatus("", TokenCall(response.endpoint(), response.token()));
  return 0;
}

int Connect(const sockaddr_un& addr) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    std::fprintf(stderr, "peer_probe: connect: %s\n", std::strerror(errno));
    std::exit(1);
  }
  return fd;
}

int Connections(const std::string& path, int count, bool churn) {
  std::deque<int> fds;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  for (int i = 0; i < count; ++i) fds.push_back(Connect(addr));
  std::printf("ready\n");
  std::fflush(stdout);
  while (churn) {
    close(fds.front());
    fds.pop_front();
    fds.push_back(Connect(addr));
  }
  pause();
  return 0;
}

// Streams that got their first event.
struct Started {
  std::mutex mu;
  std::condition_variable cv;
  int count = 0;
};

class WatchStream : public grpc::ClientReadReactor<power::v1::PowerEvent> {
 public:
  WatchStream(power::v1::Power::Stub* stub, Started* started) : started_(started) {
    stub->async()->Watch(&context_, &request_, this);
    StartRead(&event_);
    StartCall();
  }
  void OnReadDone(bool ok) override {
    if (!ok) return;
    if (!counted_) {
      counted_ = true;
      std::lock_guard lock(started_->mu);
      ++started_->count;
      started_->cv.notify_all();
    }
    StartRead(&event_);
  }
  void OnDone(const grpc::Status&) override {}

 private:
  grpc::ClientContext context_;
  power::v1::WatchRequest request_;
  power::v1::PowerEvent event_;
  Started* started_;
  bool counted_ = false;
};

int Streams(const std::string& endpoint, int channels, int per_channel) {
  Started started;
  std::vector<std::unique_ptr<power::v1::Power::Stub>> stubs;
  std::vector<std::unique_ptr<WatchStream>> streams;
  for (int c = 0; c < channels; ++c) {
    grpc::ChannelArguments args;
    args.SetInt("trellis.probe.channel", c);  // A connection of its own.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    stubs.push_back(power::v1::Power::NewStub(
        grpc::CreateCustomChannel(endpoint, grpc::InsecureChannelCredentials(), args)));
    for (int s = 0; s < per_channel; ++s) {
      streams.push_back(std::make_unique<WatchStream>(stubs.back().get(), &started));
    }
  }
  const int total = channels * per_channel;
  {
    std::unique_lock lock(started.mu);
    if (!started.cv.wait_for(lock, std::chrono::seconds(60),
                             [&] { return started.count == total; })) {
      std::fprintf(stderr, "peer_probe: only %d of %d streams started\n", started.count, total);
      return 1;
    }
  }
  std::printf("ready\n");
  std::fflush(stdout);
  pause();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 3 && args[0] == "token-call") {
    PrintStatus("", TokenCall(args[1], args[2]));
    return 0;
  }
  if (args.size() == 3 && args[0] == "block-info") {
    PrintStatus("", BlockInfo(args[1], args[2]));
    return 0;
  }
  if (args.size() == 3 && args[0] == "bind-call") return BindCall(args[1], args[2]);
  if ((args.size() == 3 || (args.size() == 4 && args[3] == "churn")) && args[0] == "connections") {
    return Connections(args[1], std::stoi(args[2]), args.size() == 4);
  }
  if (args.size() == 4 && args[0] == "streams") {
    return Streams(args[1], std::stoi(args[2]), std::stoi(args[3]));
  }
  std::fprintf(stderr,
               "usage: peer_probe token-call HOST_ENDPOINT TOKEN | block-info HOST_ENDPOINT TOKEN |\n"
               "       bind-call MANAGER NODE |\n"
               "       connections SOCKET COUNT [churn] | streams MANAGER CHANNELS PER_CHANNEL\n");
  return 2;
}
