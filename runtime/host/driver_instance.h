// DriverInstance: one driver bound to one node, inside a host. Owns the
// driver object and its default dispatcher, and implements DriverHostApi.
//
// Threading: lifecycle hooks (Start, Stop, SystemSuspend, SystemResume) run as
// system tasks on the driver's dispatcher; state_ is touched only there.
// The protocol table is read by gRPC threads and guarded by mu_.
#pragma once

#include <atomic>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/dispatcher.h"
#include "runtime/driver/driver.h"
#include "runtime/driver/host_api.h"
#include "runtime/host/driver_library.h"
#include "runtime/mutex.h"
#include "runtime/runtime.h"
#include "trellis/node/v1/node.grpc.pb.h"

namespace trellis::host {

// What every instance of a host shares.
class HostRegistry;

struct HostEnv {
  Runtime* runtime = nullptr;
  node::v1::NodeChannel::Stub* node_channel = nullptr;
  std::string host_id;
  // The host's instances, for connections between drivers in one host.
  const HostRegistry* registry = nullptr;
};

class DriverInstance;

// While a BatchScope lives on a thread, lifecycle calls made on that thread
// (Suspend, Resume, and what their hooks complete inline) visit each
// driver's dispatcher inline when it is idle, instead of posting: a host's
// power batch runs its drivers' hooks in one pass on the thread that
// received it, with no thread hand-off per driver. Hooks must not block
// (the driver contract), so the pass is short.
class BatchScope {
 public:
  BatchScope();
  ~BatchScope();
  BatchScope(const BatchScope&) = delete;
  BatchScope& operator=(const BatchScope&) = delete;
  static bool active();

 private:
  bool saved_;
};

class DriverInstance final : public DriverHostApi,
                             public std::enable_shared_from_this<DriverInstance> {
 public:
  using Done = std::move_only_function<void(Result<void>)>;

  struct Config {
    StartArgs args;
    std::string node_token;
    std::vector<std::string> exposes;
    const DriverLibrary* library = nullptr;
  };

  DriverInstance(HostEnv env, Config config);
  ~DriverInstance() override;

  // Constructs the driver and runs its Start hook. On failure the driver is
  // destroyed and the dispatcher shut down before `done` runs.
  void Start(Done done);
  // Runs Stop (resuming first if suspended), destroys the driver and shuts
  // the dispatcher down; `done` runs once every task has drained.
  void Stop(std::move_only_function<void()> done);
  // Drains the power-managed dispatcher, then runs SystemSuspend.
  // Errors: kFailedPrecondition if not power-managed or not running.
  void Suspend(Done done);
  // Runs SystemResume, then reopens the dispatcher; the task of a wake
  // vector that fired meanwhile runs before every queued task.
  void Resume(std::optional<WakeLease> lease, Done done);
  // The token the driver presents on NodeChannel calls.
  const std::string& node_token() const { return config_.node_token; }

  // The implementation served for `protocol` at `node_path` (the driver's
  // own node, or a child it offers the protocol on), or null. Any thread.
  void* FindProtocol(std::string_view node_path, std::string_view protocol) const
      TRELLIS_EXCLUDES(mu_);
  // The protocols served at the driver's own node.
  std::vector<std::string> served_protocols() const TRELLIS_EXCLUDES(mu_);
  const std::string& node_path() const { return config_.args.node_path; }
  // Client requests to this driver's protocols: every authorized call
  // (HostRegistry::AuthorizeCall), and every request of a Block.Stream or
  // block queue.
  void CountClientCall(uint64_t n = 1) { client_calls_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t client_calls() const { return client_calls_.load(std::memory_order_relaxed); }

  // DriverHostApi:
  const StartArgs& start_args() const override { return config_.args; }
  UnownedDispatcher dispatcher() const override { return dispatcher_.borrow(); }
  Runtime& runtime() const override { return *env_.runtime; }
  void AddChild(ChildArgs args, std::move_only_function<void(Result<std::string>)> done) override;
  void RemoveChild(std::string name, std::move_only_function<void(Result<void>)> done) override;
  void AcquireWakeLease(std::string name,
                        std::move_only_function<void(Result<WakeLease>)> done) override;
  Result<WakeVector> ArmWakeVector(int fd, short events, std::string reason,
                                   WakeHandler on_wake) override;
  void ReportWake(std::string reason) override;
  // As ReportWake, for an event that happened at `at`.
  void ReportWakeAt(std::string reason, Clock::time_point at);
  Result<void> ServeProtocol(std::string_view protocol, void* impl) override TRELLIS_EXCLUDES(mu_);
  void Connect(std::string_view protocol,
               std::move_only_function<void(Result<std::unique_ptr<ProtocolClient>>)> done) override;
  void Log(LogLevel level, std::string_view message) override;
  void HandOffWakeLease(WakeLease lease, std::string token,
                        std::move_only_function<void(Result<void>)> done) override;

 private:
  std::atomic<uint64_t> client_calls_{0};
  enum class State { kCreated, kStarting, kRunning, kSuspending, kSuspended, kStopping, kStopped };

  // Destroys the driver and shuts the dispatcher down; `then` runs after the
  // last task. Must run on the dispatcher.
  void Teardown(std::move_only_function<void()> then);
  // Runs `fn` on the driver's dispatcher even while suspended: inline when
  // called inside a BatchScope and the dispatcher is idle, else posted as a
  // system task.
  void OnDispatcher(Task fn);
  // As OnDispatcher, but inline when already running on that dispatcher.
  void OnDispatcherNow(Task fn);
  // A wake vector fired (on wake_dispatcher_): report it and run the
  // driver's handler — first after resume if the driver is suspended.
  void OnWakeVector(int revents, const std::string& reason, WakeHandler on_wake);
  // The pending wake handlers as one task (null if none).
  Task TakeWakeTask();

  HostEnv env_;
  Config config_;
  Dispatcher dispatcher_;
  // Unmanaged, only for wake-capable drivers: wake vectors complete here, so
  // they are seen while dispatcher_ is suspended.
  Dispatcher wake_dispatcher_;
  // Checks a protocol the driver may serve (known to the host, in the
  // manifest's exposes).
  Result<void> CheckServable(std::string_view protocol) const;
  // Adds `offers` for the child at `child_path`, all or none. Errors: as
  // ServeProtocol.
  Result<void> AddOffers(const std::string& child_path, const std::vector<ProtocolOffer>& offers)
      TRELLIS_EXCLUDES(mu_);
  // Removes the child's offers of `protocols`, or every offer on it when
  // `protocols` is null.
  void RemoveOffers(const std::string& child_path,
                    const std::vector<std::string>* protocols = nullptr) TRELLIS_EXCLUDES(mu_);

  // Touched only on the dispatcher.
  Driver* driver_ = nullptr;
  State state_ = State::kCreated;
  // Handlers of wake vectors that fired while suspending or suspended; they
  // run (in firing order) as the wake task when the dispatcher resumes.
  std::vector<Task> pending_wake_;

  mutable Mutex mu_;
  // Served implementations by {node path, protocol}: the driver's own node
  // and the children it offers protocols on.
  // Compares {path, protocol} keys as string views, so a lookup by views
  // (every client request does one) allocates nothing.
  struct KeyLess {
    using is_transparent = void;
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return std::pair<std::string_view, std::string_view>(a.first, a.second) <
             std::pair<std::string_view, std::string_view>(b.first, b.second);
    }
  };
  std::map<std::pair<std::string, std::string>, void*, KeyLess> protocols_ TRELLIS_GUARDED_BY(mu_);
};

}  // namespace trellis::host
