#include "runtime/host/driver_host.h"

#include <grpcpp/create_channel_posix.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <grpcpp/server_posix.h>
#include <unistd.h>

#include <future>

#include "runtime/rpc/server_limits.h"

namespace trellis::host {

namespace {

// gRPC's fd transports need non-blocking sockets; with a blocking one the
// first call hangs.
Result<void> SetNonBlocking(int fd, std::string_view what) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    return FailErrno(errno, std::string(what) + " fd " + std::to_string(fd));
  }
  return Ok();
}

}  // namespace

Result<std::unique_ptr<DriverHost>> DriverHost::Start(DriverHostOptions options, int control_fd,
                                                      int manager_fd) {
  TRELLIS_TRY(SetNonBlocking(control_fd, "control"));
  TRELLIS_TRY(SetNonBlocking(manager_fd, "manager"));
  std::unique_ptr<DriverHost> host(new DriverHost());
  host->options_ = std::move(options);
  RuntimeOptions runtime_options{.threads = host->options_.threads,
                                 .name = host->options_.host_id.substr(0, 10)};
  runtime_options.reactor.io_faults = host->options_.io_faults;
  TRELLIS_ASSIGN_OR_RETURN(host->runtime_, Runtime::Create(std::move(runtime_options)),
                           "while starting host " + host->options_.host_id);

  grpc::ChannelArguments args;
  host->manager_channel_ = grpc::CreateCustomInsecureChannelFromFd("manager", manager_fd, args);
  host->node_channel_ = node::v1::NodeChannel::NewStub(host->manager_channel_);

  if (!host->options_.client_socket.empty()) {
    host->endpoint_ = "unix:" + host->options_.client_socket;
  }
  HostEnv env{.runtime = host->runtime_.get(),
              .node_channel = host->node_channel_.get(),
              .host_id = host->options_.host_id,
              .registry = &host->registry_};
  DriverHost* raw = host.get();
  host->host_service_ = std::make_unique<HostService>(env, &host->registry_, host->endpoint_,
                                                      [raw] { raw->RequestShutdown(); });
  host->device_service_ = std::make_unique<DeviceService>(&host->registry_);
  host->block_service_ = std::make_unique<BlockService>(&host->registry_);
  host->alarm_service_ = std::make_unique<AlarmService>(&host->registry_);
  host->entropy_service_ = std::make_unique<EntropyService>(&host->registry_);
  host->console_service_ = std::make_unique<ConsoleService>(&host->registry_);

  grpc::ServerBuilder control;
  rpc::ApplyServerLimits(control, "host-control");
  control.RegisterService(host->host_service_.get());
  host->control_server_ = control.BuildAndStart();
  if (host->control_server_ == nullptr) {
    return Fail(ErrorCode::kInternal, "cannot start the host's control server");
  }
  grpc::AddInsecureChannelFromFd(host->control_server_.get(), control_fd);

  if (!host->endpoint_.empty()) {
    grpc::ServerBuilder clients;
    rpc::ApplyServerLimits(clients, "host-clients");
    clients.RegisterService(host->device_service_.get());
    clients.RegisterService(host->block_service_.get());
    clients.RegisterService(host->alarm_service_.get());
    clients.RegisterService(host->entropy_service_.get());
    clients.RegisterService(host->console_service_.get());
    host->client_server_ = clients.BuildAndStart();
    if (host->client_server_ == nullptr) {
      return Fail(ErrorCode::kUnavailable,
                  "cannot listen on " + host->endpoint_ + " for host " + host->options_.host_id);
    }
    // Any local client may connect; every call must carry a token the
    // manager granted after checking the caller against the manifest, and
    // come from that caller's user (the acceptor's SO_PEERCRED record).
    host->accept_dispatcher_ = Dispatcher::Create(*host->runtime_, {.name = "host-accept"});
    TRELLIS_ASSIGN_OR_RETURN(
        host->acceptor_,
        rpc::PeerAcceptor::Listen(host->options_.client_socket, host->client_server_.get(),
                                  host->runtime_->reactor(), host->accept_dispatcher_.borrow()),
        "for host " + host->options_.host_id);
    rpc::PeerAcceptor* acceptor = host->acceptor_.get();
    host->registry_.SetPeerLookup(
        [acceptor](const std::string& peer) { return acceptor->Lookup(peer); });
    std::string shm_path = SharedMemoryServer::PathFor(host->endpoint_);
    TRELLIS_ASSIGN_OR_RETURN(host->shm_server_,
                             SharedMemoryServer::Listen(shm_path, &host->registry_),
                             "for host " + host->options_.host_id);
    chmod(shm_path.c_str(), 0666);
  }
  return host;
}

void DriverHost::Wait() {
  MutexLock lock(mu_);
  while (!shutdown_requested_) cv_.Wait(mu_);
}

void DriverHost::RequestShutdown() {
  {
    MutexLock lock(mu_);
    shutdown_requested_ = true;
  }
  cv_.NotifyAll();
}

DriverHost::~DriverHost() {
  auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(2);
  if (client_server_) client_server_->Shutdown(deadline);
  shm_server_.reset();
  if (host_service_) {
    std::promise<void> stopped;
    host_service_->StopAll([&] { stopped.set_value(); });
    stopped.get_future().wait_for(std::chrono::seconds(5));
  }
  if (control_server_) control_server_->Shutdown(deadline);
  if (acceptor_) acceptor_->Stop();  // Unlinks the socket.
  // The services own dispatchers: they go before the runtime they run on.
  control_server_.reset();
  client_server_.reset();
  registry_.SetPeerLookup(nullptr);
  acceptor_.reset();
  accept_dispatcher_ = Dispatcher();
  host_service_.reset();
  device_service_.reset();
  block_service_.reset();
  alarm_service_.reset();
  entropy_service_.reset();
  console_service_.reset();
  runtime_.reset();
}

}  // namespace trellis::host
