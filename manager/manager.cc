#include "manager/manager.h"

#include <sys/random.h>
#include <sys/wait.h>

#include <cstdio>
#include <future>
#include <variant>

#include "manager/driver_manager_service.h"
#include "manager/node_channel_service.h"
#include "manager/power_service.h"
#include "runtime/rpc/properties.h"
#include "runtime/rpc/server_limits.h"

namespace trellis::manager {

namespace {

using manager::v1::TopologyEvent;

std::string_view EventName(TopologyEvent::Kind kind) {
  switch (kind) {
    case TopologyEvent::KIND_NODE_ADDED: return "node added";
    case TopologyEvent::KIND_NODE_REMOVED: return "node removed";
    case TopologyEvent::KIND_DRIVER_BOUND: return "driver bound";
    case TopologyEvent::KIND_DRIVER_STARTED: return "driver started";
    case TopologyEvent::KIND_DRIVER_STOPPED: return "driver stopped";
    case TopologyEvent::KIND_HOST_STARTED: return "host started";
    case TopologyEvent::KIND_HOST_CRASHED: return "host crashed";
    case TopologyEvent::KIND_HOST_RESTARTED: return "host restarted";
    case TopologyEvent::KIND_NODE_QUARANTINED: return "node quarantined";
    default: return "event";
  }
}

// "{runtime_dir}" in a board's string property stands for the manager's
// runtime directory, so a board can name files made at run time (the
// default board's disk image).
void ExpandRuntimeDir(NodeProperties& props, const std::string& runtime_dir) {
  static constexpr std::string_view kVariable = "{runtime_dir}";
  for (auto& p : props) {
    auto* text = std::get_if<std::string>(&p.value);
    if (text == nullptr) continue;
    for (size_t at = text->find(kVariable); at != std::string::npos;
         at = text->find(kVariable, at + runtime_dir.size())) {
      text->replace(at, kVariable.size(), runtime_dir);
    }
  }
}

// Sets (or replaces) the "virtio.socket" property of a node with a backend
// to the backend's resolved socket, so its driver finds it.
void SetBackendSocket(NodeProperties& props, const std::string& socket) {
  std::erase_if(props, [](const NodeProperty& p) { return p.key == kVirtioSocketProperty; });
  props.push_back({std::string(kVirtioSocketProperty), socket});
}

Result<void> AddBoardNodes(Topology& topology, Node* parent,
                           const google::protobuf::RepeatedPtrField<manifest::v1::BoardNode>& nodes,
                           const std::string& runtime_dir,
                           const std::map<std::string, std::string>& backend_sockets) {
  for (const auto& spec : nodes) {
    TRELLIS_ASSIGN_OR_RETURN(NodeProperties props, rpc::FromProto(spec.properties()),
                             "board node '" + spec.name() + "'");
    ExpandRuntimeDir(props, runtime_dir);
    auto socket = backend_sockets.find(parent->path() + "." + spec.name());
    if (socket != backend_sockets.end()) SetBackendSocket(props, socket->second);
    TRELLIS_ASSIGN_OR_RETURN(Node * node, topology.AddChild(parent, spec.name(), std::move(props)),
                             "board node under " + parent->path());
    TRELLIS_TRY(AddBoardNodes(topology, node, spec.children(), runtime_dir, backend_sockets));
  }
  return Ok();
}

}  // namespace

std::string NewToken() {
  unsigned char bytes[16];
  size_t got = 0;
  while (got < sizeof(bytes)) {
    ssize_t n = getrandom(bytes + got, sizeof(bytes) - got, 0);
    if (n > 0) got += static_cast<size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string token;
  for (unsigned char b : bytes) {
    token.push_back(kHex[b >> 4]);
    token.push_back(kHex[b & 15]);
  }
  return token;
}

Manager::Manager(ManagerOptions options) : options_(std::move(options)) {}

Result<std::unique_ptr<Manager>> Manager::Start(ManagerOptions options) {
  std::unique_ptr<Manager> manager(new Manager(std::move(options)));
  TRELLIS_TRY(manager->Boot(), "while starting trellis-manager");
  return manager;
}

Result<void> Manager::Boot() {
  TRELLIS_ASSIGN_OR_RETURN(board_, LoadBoard(options_.board));
  std::error_code absolute_ec;
  std::filesystem::path state_dir = std::filesystem::absolute(options_.runtime_dir, absolute_ec);
  TRELLIS_ASSIGN_OR_RETURN(std::vector<BoardBackend> backends,
                           ResolveBoardBackends(board_, state_dir));
  std::map<std::string, std::string> backend_sockets;  // Node path → socket.
  for (const BoardBackend& backend : backends) {
    backend_sockets[backend.node_path] = backend.socket;
  }
  std::vector<std::filesystem::path> dirs = board_.driver_dirs;
  dirs.insert(dirs.end(), options_.extra_driver_dirs.begin(), options_.extra_driver_dirs.end());
  DriverIndexLoad index = LoadDriverDirectories(dirs);
  load_errors_ = std::move(index.errors);
  for (const Error& error : load_errors_) {
    std::fprintf(stderr, "trellis-manager: skipped: %s\n", error.message().c_str());
  }
  for (auto& file : index.drivers) {
    std::string name = file.manifest.name();
    drivers_.emplace(name, DriverRecord{.file = std::move(file)});
  }

  std::error_code ec;
  std::filesystem::create_directories(options_.runtime_dir / "hosts", ec);
  if (ec) {
    return Fail(ErrorCode::kUnavailable,
                "cannot create runtime dir " + options_.runtime_dir.string() + ": " + ec.message());
  }
  TRELLIS_ASSIGN_OR_RETURN(runtime_, Runtime::Create({.threads = options_.threads, .name = "manager"}));
  dispatcher_ = Dispatcher::Create(*runtime_, {.name = "manager"});
  if (options_.host_binary.empty()) {
    launcher_ = std::make_unique<ThreadLauncher>();
  } else {
    launcher_ = std::make_unique<ProcessLauncher>(options_.host_binary);
  }

  std::unique_ptr<power::SuspendHal> hal;
  if (!options_.suspend_hal.empty()) {
    TRELLIS_ASSIGN_OR_RETURN(hal, power::MakeHalFromSpec(options_.suspend_hal), "--suspend-hal");
  } else if (board_.board.suspend_hal().kind() == manifest::v1::SuspendHal::LINUX_SYSFS) {
    TRELLIS_ASSIGN_OR_RETURN(hal, power::MakeSysfsHal(board_.board.suspend_hal().state_path()),
                             "board " + options_.board.string());
  } else {
    hal = power::MakeSimulatedHal();
  }
  governor_ = std::make_unique<power::Governor>(dispatcher_.borrow(),
                                                static_cast<power::Platform*>(this), std::move(hal));
  node_channel_service_ = std::make_unique<NodeChannelService>(this);
  manager_service_ = std::make_unique<DriverManagerService>(this);
  power_service_ = std::make_unique<PowerService>(this);
  grpc::ServerBuilder internal;
  rpc::ApplyServerLimits(internal, "manager-internal");
  internal.RegisterService(node_channel_service_.get());
  internal_server_ = internal.BuildAndStart();
  grpc::ServerBuilder clients;
  rpc::ApplyServerLimits(clients, "manager-clients");
  clients.RegisterService(manager_service_.get());
  clients.RegisterService(power_service_.get());
  client_server_ = clients.BuildAndStart();
  if (!internal_server_ || !client_server_) {
    return Fail(ErrorCode::kInternal, "cannot start the manager's gRPC servers");
  }
  std::string socket = (options_.runtime_dir / "manager.sock").string();
  TRELLIS_TRY(StartTlsListener());
  accept_dispatcher_ = Dispatcher::Create(*runtime_, {.name = "manager-accept"});
  TRELLIS_ASSIGN_OR_RETURN(acceptor_,
                           PeerAcceptor::Listen(socket, client_server_.get(), runtime_->reactor(),
                                                accept_dispatcher_.borrow(), options_.connections));
  endpoint_ = "unix:" + socket;

  Result<void> booted = Ok();
  RunSync([&] {
    booted = AddBoardNodes(topology_, topology_.root(), board_.board.nodes(),
                           options_.runtime_dir.string(), backend_sockets);
    if (!booted) return;
    topology_.PreOrder(topology_.root(), [&](Node* node) {
      if (node != topology_.root()) Publish(TopologyEvent::KIND_NODE_ADDED, node, "from the board");
    });
    StartBackends(std::move(backends));
    topology_.PreOrder(topology_.root(), [&](Node* node) { BindNode(node); });
    for (const auto& spec : board_.board.composites()) {
      if (auto added = AddComposite(spec); !added) {
        booted = Fail(added.error().WithContext(options_.board.string()));
        return;
      }
    }
  });
  return booted;
}

Manager::~Manager() {
  if (dispatcher_) {
    std::promise<void> stopped;
    auto posted = dispatcher_.Post([&] {
      // A suspend in progress is answered; stopping resumes suspended
      // drivers before their Stop hook.
      if (governor_) governor_->Shutdown();
      ShutdownAll([&] { stopped.set_value(); });
    });
    if (posted) stopped.get_future().wait_for(options_.stop_timeout * 2);
  }
  if (acceptor_) acceptor_->Stop();
  accept_dispatcher_ = Dispatcher();  // Before the runtime it runs on.
  auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(1);
  if (client_server_) client_server_->Shutdown(deadline);
  if (tls_server_) tls_server_->Shutdown(deadline);
  if (internal_server_) internal_server_->Shutdown(deadline);
  // Whatever host is still alive now is killed and reaped.
  if (dispatcher_) {
    RunSync([&] {
      for (auto& [id, host] : hosts_) {
        host->exit_watch = Operation();
        host->log_watch = Operation();
        if (host->launched.log_fd >= 0) {
          close(host->launched.log_fd);
          host->launched.log_fd = -1;
        }
        if (host->launched.exit_fd >= 0) {
          launcher_->Kill(host->launched);
          if (host->launched.pid > 0) waitpid(host->launched.pid, nullptr, 0);
          launcher_->Reap(host->launched);
          close(host->launched.exit_fd);
          host->launched.exit_fd = -1;
        }
        host->stub.reset();
        host->channel.reset();
      }
      for (auto& watcher : watchers_) watcher->Finish(grpc::Status::CANCELLED);
      watchers_.clear();
      for (auto& watcher : power_watchers_) watcher->Finish(grpc::Status::CANCELLED);
      power_watchers_.clear();
      for (auto& follower : log_followers_) follower.stream->Finish(grpc::Status::CANCELLED);
      log_followers_.clear();
    });
    // Every call to a host captured `this`; with the hosts dead they fail at
    // once, and their callbacks must have run before the manager goes.
    if (!WaitForIdle(options_.stop_timeout)) {
      std::fprintf(stderr, "trellis-manager: calls to hosts still pending at exit\n");
    }
    // Backends outlive the drivers using them: stopped now, once every
    // driver has been stopped.
    RunSync([&] {
      governor_.reset();
      backends_.reset();
    });
    (void)dispatcher_.Shutdown();
  }
  launcher_.reset();
  runtime_.reset();
}

void Manager::StartBackends(std::vector<BoardBackend> backends) {
  backends_ = std::make_unique<BackendSupervisor>(
      runtime_->reactor(), dispatcher_.borrow(), options_.backend_policy,
      [this](const std::string& path, bool) {
        // Bind a node waiting for its backend, or one whose driver failed
        // to start while the backend was down.
        Node* node = topology_.Find(path);
        if (node != nullptr && node->state == NodeState::kUnbound) BindNode(node);
      });
  for (BoardBackend& backend : backends) backends_->Start(std::move(backend));
}

void Manager::RunSync(std::move_only_function<void()> fn) {
  std::promise<void> done;
  auto posted = dispatcher_.Post([&] {
    fn();
    done.set_value();
  });
  if (posted) done.get_future().wait();
}

void Manager::BeginWork() {
  MutexLock lock(idle_mu_);
  ++in_flight_;
}

void Manager::EndWork() {
  {
    MutexLock lock(idle_mu_);
    --in_flight_;
  }
  idle_cv_.NotifyAll();
}

bool Manager::WaitForIdle(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  MutexLock lock(idle_mu_);
  while (in_flight_ > 0) {
    if (!idle_cv_.WaitUntil(idle_mu_, deadline) && in_flight_ > 0) return false;
  }
  return true;
}

void Manager::Publish(TopologyEvent::Kind kind, const Node* node, std::string detail,
                      std::string host_id) {
  TopologyEvent event;
  auto now = std::chrono::system_clock::now().time_since_epoch();
  event.mutable_time()->set_seconds(std::chrono::duration_cast<std::chrono::seconds>(now).count());
  event.mutable_time()->set_nanos(static_cast<int32_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(now).count() % 1'000'000'000));
  event.set_kind(kind);
  if (node != nullptr) {
    event.set_node_path(node->path());
    event.set_driver_name(node->driver);
    if (host_id.empty()) host_id = node->host_id;
  }
  event.set_host_id(host_id);
  event.set_detail(detail);
  if (options_.log_events) {
    std::fprintf(stderr, "trellis-manager: %s%s%s%s%s%s%s\n", std::string(EventName(kind)).c_str(),
                 node ? ": " : "", node ? node->path().c_str() : "",
                 event.driver_name().empty() ? "" : " driver=",
                 event.driver_name().c_str(), host_id.empty() ? "" : (" host=" + host_id).c_str(),
                 detail.empty() ? "" : (" (" + detail + ")").c_str());
  }
  std::erase_if(watchers_, [&](const auto& watcher) { return !watcher->Send(event); });

  std::vector<v1::ClassEvent> changes;
  if (node != nullptr && kind == TopologyEvent::KIND_DRIVER_STARTED) {
    changes = classes_.Arrive(node->path(), node->driver, node->exposed);
  } else if (node != nullptr && (kind == TopologyEvent::KIND_DRIVER_STOPPED ||
                                 kind == TopologyEvent::KIND_NODE_REMOVED ||
                                 kind == TopologyEvent::KIND_NODE_QUARANTINED)) {
    changes = classes_.Depart(node->path());
  }
  NotifyClassWatchers(changes);

  // Composites follow their parents: assembled when a parent's driver
  // starts, removed when it stops. Later tasks: this may run in the middle
  // of a removal.
  if (node != nullptr && !composites_.empty()) {
    if (kind == TopologyEvent::KIND_DRIVER_STARTED) {
      (void)dispatcher_.Post([this] { AssembleComposites(); });
    } else if (kind == TopologyEvent::KIND_DRIVER_STOPPED && !node->composite) {
      (void)dispatcher_.Post([this, path = node->path()] { RemoveCompositesOf(path); });
    }
  }
}

void Manager::NotifyClassWatchers(const std::vector<v1::ClassEvent>& changes) {
  for (const auto& change : changes) {
    std::erase_if(class_watchers_, [&](const ClassWatcher& watcher) {
      if (!watcher.class_name.empty() && watcher.class_name != change.instance().class_name()) {
        return !watcher.stream->active();
      }
      return !watcher.stream->Send(change);
    });
  }
}

}  // namespace trellis::manager
