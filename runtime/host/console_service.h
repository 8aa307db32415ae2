// ConsoleService: serves trellis.console.v1.Console to bound clients on the
// host's client socket, for drivers that serve ConsoleProtocol.
//
// Write: size checked here, then the driver's Write on its dispatcher.
// Read: one open stream per console node (a second one fails with
// FAILED_PRECONDITION). The stream pulls: it asks the driver for input
// (ConsoleProtocol::Read), writes what comes to the client, and asks again
// only once that write is done, so a slow client holds the input back in
// the driver and the device instead of piling it up here. A client that
// cancels has its pending driver Read cancelled (nothing consumed); input
// handed to it that it never got (the write failed, or it came after the
// cancel) goes to the next reader first.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "runtime/host/host_registry.h"
#include "runtime/mutex.h"
#include "trellis/console/v1/console.grpc.pb.h"

namespace trellis::host {

class ConsoleService final : public trellis::console::v1::Console::CallbackService {
 public:
  // Largest ConsoleData message.
  static constexpr size_t kMaxChunk = 64 * 1024;
  // Initial metadata of a Read stream that holds the console (sent at once;
  // a refused stream has none).
  static constexpr std::string_view kReaderMetadata = "trellis-console-reader";

  explicit ConsoleService(HostRegistry* registry) : registry_(registry) {}

  grpc::ServerUnaryReactor* Write(grpc::CallbackServerContext* context,
                                  const console::v1::ConsoleWriteRequest* request,
                                  console::v1::ConsoleWriteResponse* response) override;
  grpc::ServerWriteReactor<console::v1::ConsoleData>* Read(
      grpc::CallbackServerContext* context,
      const console::v1::ConsoleReadRequest* request) override;

 private:
  // Shared with the streams, which may outlive the service (a driver Read
  // completing during shutdown).
  struct Readers {
    Mutex mu;
    // Nodes with an open Read stream.
    std::set<std::string> reading TRELLIS_GUARDED_BY(mu);
    // By node: input a reader that went away was handed but never got, for
    // the next reader (before anything newer).
    std::map<std::string, std::string> leftovers TRELLIS_GUARDED_BY(mu);
  };

  HostRegistry* registry_;
  const std::shared_ptr<Readers> readers_ = std::make_shared<Readers>();
};

}  // namespace trellis::host
