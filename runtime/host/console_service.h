// ConsoleService: serves trellis.console.v1.Console to bound clients on the
// host's client socket, for drivers that serve ConsoleProtocol.
//
// Write: size checked here, then the driver's Write on its dispatcher.
// Read: one open stream per console node (a second one fails with
// FAILED_PRECONDITION). The stream pulls: it asks the driver for input
// (ConsoleProtocol::Read), writes what comes to the client, and asks again
// only once that write is done, so a slow client holds the input back in
// the driver and the device instead of piling it up here. A client that
// cancels has its pending driver Read cancelled (nothing consumed); only a
// chunk already on its way to it goes with it.
#pragma once

#include <set>
#include <string>

#include "runtime/host/host_registry.h"
#include "runtime/mutex.h"
#include "trellis/console/v1/console.grpc.pb.h"

namespace trellis::host {

class ConsoleService final : public trellis::console::v1::Console::CallbackService {
 public:
  // Largest ConsoleData message.
  static constexpr size_t kMaxChunk = 64 * 1024;

  explicit ConsoleService(HostRegistry* registry) : registry_(registry) {}

  grpc::ServerUnaryReactor* Write(grpc::CallbackServerContext* context,
                                  const console::v1::ConsoleWriteRequest* request,
                                  console::v1::ConsoleWriteResponse* response) override;
  grpc::ServerWriteReactor<console::v1::ConsoleData>* Read(
      grpc::CallbackServerContext* context,
      const console::v1::ConsoleReadRequest* request) override;

 private:
  HostRegistry* registry_;
  Mutex mu_;
  // Nodes with an open Read stream.
  std::set<std::string> reading_ TRELLIS_GUARDED_BY(mu_);
};

}  // namespace trellis::host
