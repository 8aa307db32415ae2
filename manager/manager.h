// Manager: the driver manager (after DFv2's driver_manager). Loads the board
// and driver manifests, keeps the node topology, binds drivers to nodes,
// starts and supervises driver hosts, and serves DriverManager to clients and
// NodeChannel to hosts.
//
// Concurrency: every piece of state below the "dispatcher state" line is
// owned by `dispatcher_` and touched only in its tasks. gRPC handlers post
// onto it; host calls complete onto it. The public methods are thread-safe.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "manager/backend/backend_supervisor.h"
#include "manager/bind/driver_selector.h"
#include "manager/backend/output_lines.h"
#include "manager/host/host_launcher.h"
#include "manager/logs/log_ring.h"
#include "manager/manifest/manifest.h"
#include "manager/topology/class_registry.h"
#include "manager/topology/topology.h"
#include "power/governor.h"
#include "runtime/dispatcher.h"
#include "runtime/error.h"
#include "runtime/mutex.h"
#include "runtime/rpc/async_call.h"
#include "runtime/rpc/finisher.h"
#include "runtime/rpc/peer_acceptor.h"
#include "runtime/rpc/server_stream.h"
#include "runtime/rpc/status.h"
#include "runtime/runtime.h"
#include "trellis/device/v1/device.grpc.pb.h"
#include "trellis/host/v1/host.grpc.pb.h"
#include "trellis/manager/v1/manager.grpc.pb.h"

namespace trellis::manager {

// The reason every RPC that arrives after the manager began to stop gets
// (UNAVAILABLE).
inline constexpr const char* kShuttingDown = "the manager is shutting down";

using rpc::PeerAcceptor;
using rpc::PeerCredentials;

struct ManagerOptions {
  std::filesystem::path board;
  // Scanned in addition to the board's driver_dirs.
  std::vector<std::filesystem::path> extra_driver_dirs;
  // Sockets live here: manager.sock, hosts/<id>.sock.
  std::filesystem::path runtime_dir;
  // trellis-host binary; empty runs hosts as threads of this process.
  std::string host_binary;
  size_t threads = 2;
  std::chrono::milliseconds start_timeout{10'000};
  std::chrono::milliseconds stop_timeout{5'000};
  std::chrono::milliseconds restart_backoff{100};
  std::chrono::milliseconds max_restart_backoff{5'000};
  // Restarts and stopping of the backend processes board nodes declare.
  BackendPolicy backend_policy;
  uint32_t default_max_restarts = 3;
  // Prints topology events to stderr as they happen.
  bool log_events = true;
  // Deadline of a driver's suspend or resume hook when its manifest sets none.
  std::chrono::milliseconds power_timeout{2'000};
  // Overrides the board's suspend HAL: "simulated", "linux-sysfs" or
  // "linux-sysfs:<path>"; empty keeps the board's choice.
  std::string suspend_hal;
  // Members of this group (primary or supplementary) may change the
  // system's power state, besides root and the manager's own user.
  std::optional<gid_t> power_group;
  // Caps of the client socket's acceptor.
  rpc::PeerAcceptorOptions connections;
  // Optional TCP listener for remote clients, only with mutual TLS: the
  // client's certificate is required and verified against `client_ca`.
  struct Tls {
    std::string address;  // "HOST:PORT"; port 0 picks one (Manager::tls_port).
    std::string cert_pem, key_pem, client_ca_pem;  // Contents, not paths.
    // Certificate common names that may change the power state. Remote
    // clients may read everything, and never bind nodes (the data path is
    // a Unix socket) or administer drivers.
    std::vector<std::string> power_subjects;
  };
  std::optional<Tls> tls;
};

class NodeChannelService;
class DriverManagerService;
class PowerService;

class Manager final : private power::Platform {
 public:
  // Bindings (tokens) one process may hold at once; Bind answers
  // RESOURCE_EXHAUSTED past it.
  static constexpr size_t kMaxBindingsPerClient = 1024;
  // Loads the board and the driver manifests (bad driver manifests are
  // reported and skipped), starts the servers and binds the board's nodes.
  // Errors: a bad board file, an unusable runtime dir or socket.
  static Result<std::unique_ptr<Manager>> Start(ManagerOptions options);
  // Stops every driver, children before parents, then the hosts.
  ~Manager();

  // "unix:<runtime_dir>/manager.sock".
  const std::string& endpoint() const { return endpoint_; }
  // The TLS listener's port (ManagerOptions::tls), 0 without one.
  int tls_port() const { return tls_port_; }
  // The client socket's acceptor: connections accepted, refused, open now.
  rpc::PeerAcceptorStats connection_stats() { return acceptor_->stats(); }
  // Manifests that failed to load and were skipped.
  const std::vector<Error>& load_errors() const { return load_errors_; }
  // Waits until no driver start, stop or restart, and no call to a host, is
  // in flight.
  bool WaitForIdle(std::chrono::milliseconds timeout) TRELLIS_EXCLUDES(idle_mu_);

 private:
  friend class NodeChannelService;
  friend class DriverManagerService;
  friend class PowerService;

  // Starts the TLS listener if ManagerOptions::tls asks for one
  // (manager/tls_listener.cc). Errors: kInvalidArgument for unusable
  // certificates or an address gRPC cannot listen on.
  Result<void> StartTlsListener();
  // The verified client certificate's common name of a call that came over
  // the TLS listener; nullopt for any other call.
  static std::optional<std::string> TlsSubject(const grpc::CallbackServerContext* context);

  struct DriverRecord {
    DriverManifestFile file;
    bool disabled = false;
  };
  struct HostRecord {
    std::string id;
    std::string group;  // Colocation group; empty for a driver's own host.
    host::v1::HostState state = host::v1::HOST_STATE_STARTING;
    uint64_t generation = 0;  // Bumped per launch; stale callbacks compare it.
    LaunchedHost launched;
    uint32_t restarts = 0;
    std::string client_socket;
    std::string endpoint;
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<host::v1::DriverHost::Stub> stub;
    Operation exit_watch;
    std::set<std::string> nodes;
    bool stopping = false;           // Shut down on purpose: not a crash.
    bool restart_requested = false;  // Killed by RestartHost: restart, don't count.
    OutputLines log_lines;           // Of launched.log_fd.
    Operation log_watch;
  };
  struct ClientToken {
    std::string node_path;
    std::string protocol;
    std::string host_id;
    pid_t pid = 0;  // The client process (SO_PEERCRED), 0 if unknown.
  };

  explicit Manager(ManagerOptions options);
  Result<void> Boot();
  // Starts the board's backend processes; each node is bound once its
  // backend is ready (BackendSupervisor::Gating).
  void StartBackends(std::vector<BoardBackend> backends);

  // ---- Binding (binding.cc) ----
  void BindNode(Node* node);
  Result<void> CheckBindCycle(Node* node, const std::string& driver) const;
  void StartDriver(Node* node, const DriverRecord& driver,
                   std::move_only_function<void(Result<void>)> done = nullptr);
  void OnDriverStarted(const std::string& path, uint64_t host_generation, grpc::Status status,
                       const host::v1::StartDriverResponse& response,
                       std::move_only_function<void(Result<void>)> done);
  Result<Node*> AddChildFromDriver(const std::string& node_token, std::string name,
                                   NodeProperties properties, std::vector<std::string> offered);

  // ---- The driver index at run time, test nodes, explanations (rebinding.cc) ----
  // The driver a bind of `node` would select now, with a verdict per driver.
  Selection SelectFor(const Node& node) const;
  // Stops the children `node`'s driver added (deepest first), then its
  // driver; the node stays, unbound. `done` runs on the dispatcher.
  void UnbindNode(Node* node, std::move_only_function<void()> done);
  // Binds `driver` wherever a bind would now select it: unbound nodes, and
  // nodes bound to a fallback driver (which yields). Returns their paths.
  std::vector<std::string> BindWhereSelected(const std::string& driver);
  // DriverManager.RegisterDriver / DisableDriver / EnableDriver.
  struct Registered {
    std::string name;
    std::vector<std::string> bound;  // Nodes it binds.
  };
  Result<Registered> RegisterDriver(const std::filesystem::path& manifest);
  // `done` gets the outcome and the nodes it was unbound from.
  void DisableDriver(const std::string& name,
                     std::move_only_function<void(Result<void>, std::vector<std::string>)> done);
  Result<std::vector<std::string>> EnableDriver(const std::string& name);
  v1::ExplainBindingResponse ExplainBinding(const Node& node) const;
  Result<Node*> AddTestNode(const std::string& parent_path, std::string name,
                            NodeProperties properties);
  // Errors: kNotFound, kFailedPrecondition (not a test node, or being
  // removed); `done` runs once it is gone.
  Result<void> RemoveTestNode(const std::string& path, std::move_only_function<void()> done);

  // ---- Composite nodes (composites.cc) ----
  struct Composite {
    manifest::v1::CompositeSpec spec;
    std::string node_path;  // Empty while not assembled.
  };
  // Adds a spec and assembles it if it can; the node's path or "".
  // Errors: kInvalidArgument (bad spec), kAlreadyExists (name in use).
  Result<std::string> AddComposite(manifest::v1::CompositeSpec spec);
  // Assembles every spec whose parents have all matched bound nodes.
  void AssembleComposites();
  // Assembled composites with a parent at or under `subtree`.
  std::vector<std::string> CompositesOf(const std::string& subtree) const;
  // The composite at `node_path` was removed: it may be assembled again.
  void ForgetComposite(const std::string& node_path);
  // Removes the composites of a parent whose driver stopped.
  void RemoveCompositesOf(const std::string& parent);

  // ---- Client grants (grants.cc) ----
  struct ClientGrant {
    std::string endpoint;
    std::string token;
    std::string host_id;
  };
  // The node whose driver serves `protocol` at `node`: the parent's, for a
  // protocol offered on `node`, else `node`'s own. Errors: kNotFound if
  // neither serves it (the message lists what does); kFailedPrecondition if
  // the serving driver is not running (or, unless starting_ok, still
  // starting: a driver's children bind, and connect, during its Start).
  Result<Node*> ServingNode(Node* node, const std::string& protocol, bool starting_ok = false);
  // The protocol the serving node serves for `protocol` at `node`: a
  // composite's "<parent>/<protocol>" is the parent's <protocol>.
  static std::string ServedProtocol(const Node& node, const std::string& protocol);
  // Issues a client token for `protocol` at `node` (served by `serving`) on
  // the serving host, then runs `done` on the dispatcher with the grant.
  // The token is revoked with the node, like every client token.
  void GrantClient(Node* node, Node* serving, const std::string& protocol,
                   const PeerCredentials& caller,
                   std::move_only_function<void(Result<ClientGrant>)> done);
  // A GrantClient completion that answers a call: `fill(grant)` writes the
  // response, then the call finishes OK; an error finishes it with its status.
  template <typename Fill>
  static std::move_only_function<void(Result<ClientGrant>)> AnswerWithGrant(
      rpc::UnaryFinisher finisher, Fill fill) {
    return [finisher = std::move(finisher),
            fill = std::move(fill)](Result<ClientGrant> grant) mutable {
      if (!grant) {
        finisher.Finish(rpc::ToStatus(grant.error()));
        return;
      }
      fill(*grant);
      finisher.Finish(grpc::Status::OK);
    };
  }
  // Stops the drivers of `node`'s subtree, children before parents, then
  // removes the subtree (keep_root: remove only the descendants).
  void RemoveSubtree(Node* node, bool keep_root, std::move_only_function<void()> done);
  // Stops the drivers of the subtree at `path`: every child subtree in
  // parallel, then (if stop_self) the node's own driver.
  void StopTree(const std::string& path, bool stop_self, std::move_only_function<void()> done);
  // Stops one node's driver (if its host is alive) and drops its tokens.
  void StopNodeDriver(const std::string& path, std::move_only_function<void()> done);
  void RevokeClientTokensFor(const std::string& node_path);
  // Forgets a client token and tells its host (if alive) to refuse it.
  void RevokeClientToken(std::map<std::string, ClientToken>::iterator it);

  // ---- Hosts (hosts.cc) ----
  // The host a node's driver should run in: the node's own host (relaunched
  // if it died, keeping its id) or, for a first bind, its group's host or a
  // new one.
  Result<HostRecord*> EnsureHost(const Node& node, const std::string& group);
  Result<void> LaunchHost(HostRecord& host);
  void WatchHostExit(HostRecord& host);
  // Reads the host's stderr into logs_ (and echoes it to ours), on
  // dispatcher_; `drain` reads what is left at exit and closes the pipe.
  void WatchHostLog(HostRecord& host);
  void ReadHostLog(HostRecord& host, bool drain);
  static manager::v1::LogEntry LogEntryToProto(const LogEntry& entry);
  void OnHostExit(const std::string& host_id, uint64_t generation);
  void RestartOrQuarantine(Node* node, const std::string& why);
  // Removes the children the node's driver added, then starts the driver
  // again in the node's host.
  void RestartInPlace(Node* node);
  void ShutdownAll(std::move_only_function<void()> done);
  // Asks a live host to stop its drivers and exit; `done` runs on a gRPC
  // thread when it answers or the call fails.
  void SendShutdown(HostRecord& host, std::move_only_function<void()> done);
  // Shuts a host down once no node is assigned to it; forgets a dead one.
  void ReleaseHostIfIdle(const std::string& host_id);

  // ---- Power (power.cc): what the governor drives ----
  std::vector<power::Target> PowerTargets() override;
  void SuspendDriver(const power::Target& target, CallDone done) override;
  void ResumeDriver(const power::Target& target, std::optional<power::LeaseGrant> lease,
                    CallDone done) override;
  void ArmWakeAlarm(std::chrono::milliseconds after,
                    std::move_only_function<void(Result<void>)> done) override;
  // Arms the alarm `grant` gives access to, `after` from now, as a wake alarm.
  void CommandAlarm(ClientGrant grant, std::chrono::milliseconds after,
                    std::move_only_function<void(Result<void>)> done);
  void PowerEvent(const power::v1::PowerEvent& event) override;
  // The host running `target`'s driver, if it still does.
  HostRecord* LiveHostOf(const power::Target& target);
  // Suspend and resume calls made in one dispatcher task are sent as one
  // batch call per host at the end of the task (a wave of a system suspend
  // is one call per host, not one per driver). A missed deadline kills the
  // host, which is then handled as a crash.
  struct PowerBatch {
    std::vector<power::Target> targets;
    std::vector<std::optional<power::LeaseGrant>> leases;  // Resume only.
    std::vector<CallDone> done;
  };
  // Grants a wake lease held for exactly as long as `stream` stays open.
  void GrantLeaseOnStream(std::shared_ptr<rpc::ServerStream<power::v1::WakeLeaseEvent>> stream,
                          power::LeaseInfo info);
  // The node path a node-channel token was issued for.
  // Errors: kUnauthenticated for an unknown or revoked token.
  Result<std::string> NodeOfToken(const std::string& token) const;
  // Cancels the wake alarm armed for the last suspend, if it has not fired.
  void CancelWakeAlarm();
  void QueuePowerCall(bool suspend, const power::Target& target,
                      std::optional<power::LeaseGrant> lease, CallDone done);
  void FlushPowerCalls();
  void SendPowerBatch(bool suspend, const std::string& host_id, PowerBatch batch);

  // ---- Events and idle tracking ----
  // Also keeps classes_ in step (a driver started or stopped, a node went).
  void Publish(manager::v1::TopologyEvent::Kind kind, const Node* node, std::string detail,
               std::string host_id = "");
  // Sends class arrivals and departures to the watchers of their class.
  void NotifyClassWatchers(const std::vector<manager::v1::ClassEvent>& changes);
  void BeginWork() TRELLIS_EXCLUDES(idle_mu_);
  void EndWork() TRELLIS_EXCLUDES(idle_mu_);
  // Runs `fn` on the dispatcher and waits for it.
  void RunSync(std::move_only_function<void()> fn);

  const ManagerOptions options_;
  std::string endpoint_;
  std::vector<Error> load_errors_;
  std::unique_ptr<Runtime> runtime_;
  Dispatcher dispatcher_;
  std::unique_ptr<HostLauncher> launcher_;
  std::unique_ptr<NodeChannelService> node_channel_service_;
  std::unique_ptr<DriverManagerService> manager_service_;
  std::unique_ptr<PowerService> power_service_;
  // The TLS listener's server and its own service instances (a service
  // serves one server).
  std::unique_ptr<grpc::Server> tls_server_;
  std::unique_ptr<DriverManagerService> tls_manager_service_;
  std::unique_ptr<PowerService> tls_power_service_;
  int tls_port_ = 0;
  std::unique_ptr<grpc::Server> internal_server_;  // NodeChannel, over socketpairs.
  std::unique_ptr<grpc::Server> client_server_;    // DriverManager, via the acceptor.
  std::unique_ptr<PeerAcceptor> acceptor_;
  Dispatcher accept_dispatcher_;  // acceptor_'s alone (a connection storm delays nothing else).

  Mutex idle_mu_;
  CondVar idle_cv_;
  size_t in_flight_ TRELLIS_GUARDED_BY(idle_mu_) = 0;

  // ---- Dispatcher state ----
  BoardFile board_;
  Topology topology_;
  std::unique_ptr<BackendSupervisor> backends_;
  std::map<std::string, DriverRecord> drivers_;
  std::map<std::string, std::unique_ptr<HostRecord>> hosts_;
  uint64_t next_host_ = 1;
  uint64_t next_generation_ = 1;
  uint64_t next_client_ = 1;
  std::map<std::string, std::string> node_tokens_;  // Node-channel token → node path.
  std::map<std::string, ClientToken> client_tokens_;
  std::vector<std::shared_ptr<rpc::ServerStream<manager::v1::TopologyEvent>>> watchers_;
  ClassRegistry classes_;
  std::vector<Composite> composites_;
  struct ClassWatcher {
    std::string class_name;  // Empty: every class.
    std::shared_ptr<rpc::ServerStream<manager::v1::ClassEvent>> stream;
  };
  std::vector<ClassWatcher> class_watchers_;
  std::unique_ptr<power::Governor> governor_;
  std::vector<std::shared_ptr<rpc::ServerStream<power::v1::PowerEvent>>> power_watchers_;
  // The hosts' log (manager/logs), and the ReadLogs streams that follow it.
  LogRing logs_;
  struct LogFollower {
    LogFilter filter;
    std::shared_ptr<rpc::ServerStream<manager::v1::LogEntry>> stream;
  };
  std::vector<LogFollower> log_followers_;
  std::map<std::string, PowerBatch> suspend_batches_;  // By host id.
  std::map<std::string, PowerBatch> resume_batches_;
  bool power_flush_posted_ = false;
  struct ArmedAlarm {
    std::shared_ptr<device::v1::Device::Stub> device;
    std::string token;
    int64_t id = 0;
  };
  std::optional<ArmedAlarm> armed_alarm_;
  bool shutting_down_ = false;
};

// A random 128-bit token in hex, from getrandom(2).
std::string NewToken();

}  // namespace trellis::manager
