// DriverHost: one driver host — a runtime, the drivers bound to it, the
// DriverHost service the manager calls over a control socketpair, a
// NodeChannel client back to the manager over a second socketpair, and the
// client-facing protocol services on its own Unix socket.
//
// trellis-host wraps it in a process; tests may run it on a thread with the
// same code path.
#pragma once

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "runtime/error.h"
#include "runtime/rpc/peer_acceptor.h"
#include "runtime/host/alarm_service.h"
#include "runtime/host/console_service.h"
#include "runtime/host/entropy_service.h"
#include "runtime/host/block_service.h"
#include "runtime/host/device_service.h"
#include "runtime/host/host_registry.h"
#include "runtime/host/host_service.h"
#include "runtime/host/shared_memory_server.h"
#include "runtime/mutex.h"
#include "runtime/runtime.h"

namespace trellis::host {

struct DriverHostOptions {
  std::string host_id = "host";
  size_t threads = 2;
  // Unix socket for clients (created; an existing file is replaced).
  std::string client_socket;
  // Test-only: reactor fault injection (runtime/io_faults.h).
  std::shared_ptr<IoFaults> io_faults;
};

class DriverHost {
 public:
  // Takes ownership of both fds. `control_fd` carries the DriverHost service
  // (the manager is the client); `manager_fd` carries NodeChannel calls to
  // the manager.
  static Result<std::unique_ptr<DriverHost>> Start(DriverHostOptions options, int control_fd,
                                                   int manager_fd);
  // Stops every driver and the servers, then the runtime.
  ~DriverHost();

  // Blocks until a Shutdown call or RequestShutdown().
  void Wait() TRELLIS_EXCLUDES(mu_);
  void RequestShutdown() TRELLIS_EXCLUDES(mu_);
  const std::string& endpoint() const { return endpoint_; }

 private:
  DriverHost() = default;

  DriverHostOptions options_;
  std::string endpoint_;
  std::unique_ptr<Runtime> runtime_;
  std::shared_ptr<grpc::Channel> manager_channel_;
  std::unique_ptr<node::v1::NodeChannel::Stub> node_channel_;
  HostRegistry registry_;
  std::unique_ptr<HostService> host_service_;
  std::unique_ptr<DeviceService> device_service_;
  std::unique_ptr<BlockService> block_service_;
  std::unique_ptr<AlarmService> alarm_service_;
  std::unique_ptr<EntropyService> entropy_service_;
  std::unique_ptr<ConsoleService> console_service_;
  std::unique_ptr<grpc::Server> control_server_;
  std::unique_ptr<grpc::Server> client_server_;
  // Accepts client connections (identity before any handler runs) on
  // accept_dispatcher_.
  Dispatcher accept_dispatcher_;
  std::unique_ptr<rpc::PeerAcceptor> acceptor_;
  // The side channel for shared memory (beside client_server_'s socket).
  std::unique_ptr<SharedMemoryServer> shm_server_;

  Mutex mu_;
  CondVar cv_;
  bool shutdown_requested_ TRELLIS_GUARDED_BY(mu_) = false;
};

}  // namespace trellis::host
