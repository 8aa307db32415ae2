#include "runtime/host/driver_instance.h"

#include <algorithm>
#include <cstdio>

#include "runtime/driver/alarm_protocol.h"
#include "runtime/driver/block_protocol.h"
#include "runtime/driver/console_protocol.h"
#include "runtime/driver/device_protocol.h"
#include "runtime/driver/entropy_protocol.h"
#include "runtime/host/block_client.h"
#include "runtime/host/host_registry.h"
#include "runtime/host/wake_lease_client.h"
#include "runtime/internal/dispatcher_core.h"
#include "runtime/rpc/async_call.h"
#include "runtime/rpc/properties.h"
#include "runtime/rpc/status.h"

namespace trellis::host {

namespace {

using namespace std::chrono_literals;
constexpr auto kNodeCallTimeout = 10s;

// Protocols a host knows how to serve to clients.
bool IsKnownProtocol(std::string_view name) {
  return name == DeviceProtocol::kName || name == BlockProtocol::kName ||
         name == AlarmProtocol::kName || name == EntropyProtocol::kName ||
         name == ConsoleProtocol::kName;
}

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

}  // namespace

DriverInstance::DriverInstance(HostEnv env, Config config)
    : env_(std::move(env)),
      config_(std::move(config)),
      dispatcher_(Dispatcher::Create(
          *env_.runtime, {.name = config_.args.driver_name + "@" + config_.args.node_path,
                          .power_managed = config_.args.power_managed})) {
  if (config_.args.wake_capable) {
    wake_dispatcher_ = Dispatcher::Create(
        *env_.runtime, {.name = "wake:" + config_.args.node_path, .power_managed = false});
  }
}

DriverInstance::~DriverInstance() = default;

namespace {
thread_local bool tls_batch = false;
}  // namespace

BatchScope::BatchScope() : saved_(tls_batch) { tls_batch = true; }
BatchScope::~BatchScope() { tls_batch = saved_; }
bool BatchScope::active() { return tls_batch; }

void DriverInstance::OnDispatcher(Task fn) {
  if (tls_batch && dispatcher_.core()->TryRunSystemInline(fn)) return;
  // A failure means the dispatcher is shut down: the instance is gone and
  // the task (with whatever completion it owns) is dropped.
  (void)dispatcher_.PostSystem(std::move(fn));
}

void DriverInstance::OnDispatcherNow(Task fn) {
  // A hook that completes inline is already on the dispatcher: saves a
  // task hop (and often a cross-thread wake-up) per driver per transition.
  if (UnownedDispatcher::Current().core() == dispatcher_.core()) {
    fn();
    return;
  }
  OnDispatcher(std::move(fn));
}

void DriverInstance::Start(Done done) {
  OnDispatcher([self = shared_from_this(), done = std::move(done)]() mutable {
    if (self->state_ != State::kCreated) {
      done(Fail(ErrorCode::kFailedPrecondition,
                "driver at " + self->node_path() + " already started"));
      return;
    }
    self->state_ = State::kStarting;
    self->driver_ = self->config_.library->exports().create(self.get());
    if (self->driver_ == nullptr) {
      self->state_ = State::kStopped;
      self->Teardown([done = std::move(done), self]() mutable {
        done(Fail(ErrorCode::kInternal,
                  "driver '" + self->config_.args.driver_name + "' could not be constructed"));
      });
      return;
    }
    auto on_started = [self, done = std::move(done)](Result<void> result) mutable {
      self->OnDispatcher([self, done = std::move(done), result = std::move(result)]() mutable {
        if (result) {
          self->state_ = State::kRunning;
          done(Ok());
          return;
        }
        self->state_ = State::kStopped;
        self->Teardown([done = std::move(done), error = result.error()]() mutable {
          done(Fail(error.WithContext("driver start failed")));
        });
      });
    };
    self->driver_->Start(
        StartCompleter(std::move(on_started),
                       Fail(ErrorCode::kInternal, "the driver dropped its start completer")));
  });
}

void DriverInstance::Teardown(std::move_only_function<void()> then) {
  {
    MutexLock lock(mu_);
    protocols_.clear();
  }
  if (driver_ != nullptr) {
    config_.library->exports().destroy(driver_);
    driver_ = nullptr;
  }
  pending_wake_.clear();
  if (wake_dispatcher_) (void)wake_dispatcher_.Shutdown();
  // From inside a task: the observer fires once this task has returned.
  auto shut = dispatcher_.Shutdown(std::move(then));
  (void)shut;
}

void DriverInstance::Stop(std::move_only_function<void()> done) {
  OnDispatcher([self = shared_from_this(), done = std::move(done)]() mutable {
    auto stop = [self, done = std::move(done)]() mutable {
      if (self->state_ != State::kRunning) {
        // Never started (or start failed): nothing to stop but the dispatcher.
        self->state_ = State::kStopped;
        self->Teardown(std::move(done));
        return;
      }
      self->state_ = State::kStopping;
      self->driver_->PrepareStop(PrepareStopCompleter([self, done = std::move(done)]() mutable {
        self->OnDispatcher([self, done = std::move(done)]() mutable {
          self->driver_->Stop(StopCompleter([self, done = std::move(done)]() mutable {
            self->OnDispatcher([self, done = std::move(done)]() mutable {
              self->state_ = State::kStopped;
              self->Teardown(std::move(done));
            });
          }));
        });
      }));
    };
    if (self->state_ != State::kSuspended) {
      stop();
      return;
    }
    // Stop while suspended resumes first (seed 000).
    self->driver_->SystemResume(std::nullopt,
                                ResumeCompleter(
                                    [self, stop = std::move(stop)](Result<void>) mutable {
                                      self->OnDispatcher([self, stop = std::move(stop)]() mutable {
                                        (void)self->dispatcher_.Resume(self->TakeWakeTask());
                                        self->state_ = State::kRunning;
                                        stop();
                                      });
                                    },
                                    Fail(ErrorCode::kInternal, "dropped resume completer")));
  });
}

void DriverInstance::Suspend(Done done) {
  if (!config_.args.power_managed) {
    done(
        Fail(ErrorCode::kFailedPrecondition, "driver at " + node_path() + " is not power-managed"));
    return;
  }
  OnDispatcher([self = shared_from_this(), done = std::move(done)]() mutable {
    if (self->state_ != State::kRunning) {
      done(Fail(ErrorCode::kFailedPrecondition,
                "driver at " + self->node_path() + " is not running"));
      return;
    }
    // Stop starting the driver's tasks and let the running one finish, then
    // call the hook (as a system task: the managed queue stays held).
    self->state_ = State::kSuspending;
    auto suspended = self->dispatcher_.Suspend([self, done = std::move(done)]() mutable {
      self->OnDispatcher([self, done = std::move(done)]() mutable {
        self->driver_->SystemSuspend(SuspendCompleter(
            [self, done = std::move(done)](Result<void> result) mutable {
              self->OnDispatcherNow(
                  [self, done = std::move(done), result = std::move(result)]() mutable {
                    if (result) {
                      self->state_ = State::kSuspended;
                    } else {
                      // Still running: reopen the queue, wake handlers first.
                      self->state_ = State::kRunning;
                      (void)self->dispatcher_.Resume(self->TakeWakeTask());
                    }
                    done(std::move(result));
                  });
            },
            Fail(ErrorCode::kInternal, "the driver dropped its suspend completer")));
      });
    });
    if (!suspended) {
      self->state_ = State::kRunning;
      done(Fail(suspended.error()));
    }
  });
}

void DriverInstance::Resume(std::optional<WakeLease> lease, Done done) {
  OnDispatcher(
      [self = shared_from_this(), lease = std::move(lease), done = std::move(done)]() mutable {
        if (self->state_ != State::kSuspended) {
          done(Fail(ErrorCode::kFailedPrecondition,
                    "driver at " + self->node_path() + " is not suspended"));
          return;
        }
        self->driver_->SystemResume(
            std::move(lease),
            ResumeCompleter(
                [self, done = std::move(done)](Result<void> result) mutable {
                  self->OnDispatcherNow(
                      [self, done = std::move(done), result = std::move(result)]() mutable {
                        // Reopen the queue even if the hook failed, so Stop can run;
                        // wake handlers run before anything queued meanwhile.
                        (void)self->dispatcher_.Resume(self->TakeWakeTask());
                        self->state_ = State::kRunning;
                        done(std::move(result));
                      });
                },
                Fail(ErrorCode::kInternal, "the driver dropped its resume completer")));
      });
}

void* DriverInstance::FindProtocol(std::string_view node_path, std::string_view protocol) const {
  MutexLock lock(mu_);
  auto it = protocols_.find(std::pair<std::string_view, std::string_view>(node_path, protocol));
  return it == protocols_.end() ? nullptr : it->second;
}

std::vector<std::string> DriverInstance::served_protocols() const {
  MutexLock lock(mu_);
  std::vector<std::string> names;
  for (const auto& [key, impl] : protocols_) {
    if (key.first == node_path()) names.push_back(key.second);
  }
  return names;
}

Result<void> DriverInstance::CheckServable(std::string_view protocol) const {
  if (!IsKnownProtocol(protocol)) {
    return Fail(ErrorCode::kInvalidArgument,
                "this host cannot serve unknown protocol '" + std::string(protocol) + "'");
  }
  const auto& exposes = config_.exposes;
  if (std::find(exposes.begin(), exposes.end(), protocol) == exposes.end()) {
    return Fail(ErrorCode::kInvalidArgument,
                "protocol '" + std::string(protocol) + "' is not listed in the manifest's exposes");
  }
  return Ok();
}

Result<void> DriverInstance::ServeProtocol(std::string_view protocol, void* impl) {
  TRELLIS_TRY(CheckServable(protocol));
  MutexLock lock(mu_);
  if (!protocols_.emplace(std::make_pair(node_path(), std::string(protocol)), impl).second) {
    return Fail(ErrorCode::kAlreadyExists,
                "protocol '" + std::string(protocol) + "' is already served");
  }
  return Ok();
}

Result<void> DriverInstance::AddOffers(const std::string& child_path,
                                       const std::vector<ProtocolOffer>& offers) {
  for (const auto& offer : offers) {
    TRELLIS_TRY(CheckServable(offer.protocol), "offer on " + child_path);
    if (offer.impl == nullptr) {
      return Fail(ErrorCode::kInvalidArgument, "offer of '" + std::string(offer.protocol) +
                                                   "' on " + child_path + " has no implementation");
    }
  }
  MutexLock lock(mu_);
  std::vector<decltype(protocols_)::iterator> added;
  for (const auto& offer : offers) {
    auto [it, inserted] =
        protocols_.emplace(std::make_pair(child_path, std::string(offer.protocol)), offer.impl);
    if (!inserted) {
      for (auto undo : added) protocols_.erase(undo);
      return Fail(ErrorCode::kAlreadyExists, "protocol '" + std::string(offer.protocol) +
                                                 "' is already offered on " + child_path);
    }
    added.push_back(it);
  }
  return Ok();
}

void DriverInstance::RemoveOffers(const std::string& child_path,
                                  const std::vector<std::string>* protocols) {
  MutexLock lock(mu_);
  if (protocols == nullptr) {
    std::erase_if(protocols_, [&](const auto& entry) { return entry.first.first == child_path; });
    return;
  }
  for (const auto& protocol : *protocols) protocols_.erase(std::make_pair(child_path, protocol));
}

void DriverInstance::AddChild(ChildArgs args,
                              std::move_only_function<void(Result<std::string>)> done) {
  // Offers are in place before the manager adds the node, because it binds
  // the child's driver at once and that driver may connect straight away.
  std::string child_path = node_path() + "." + args.name;
  if (auto offered = AddOffers(child_path, args.offers); !offered) {
    (void)dispatcher_.Post(
        [done = std::move(done), error = offered.error()]() mutable { done(Fail(error)); });
    return;
  }
  node::v1::AddChildRequest request;
  request.set_node_token(config_.node_token);
  request.set_name(std::move(args.name));
  rpc::ToProto(args.properties, request.mutable_properties());
  std::vector<std::string> offered;
  for (const auto& offer : args.offers) offered.emplace_back(offer.protocol);
  for (const auto& protocol : offered) request.add_protocols_offered(protocol);
  auto* stub = env_.node_channel;
  rpc::CallAsync<node::v1::AddChildRequest, node::v1::AddChildResponse>(
      std::chrono::duration_cast<std::chrono::milliseconds>(kNodeCallTimeout), std::move(request),
      [stub](auto* ctx, auto* req, auto* resp, auto cb) {
        stub->async()->AddChild(ctx, req, resp, std::move(cb));
      },
      [self = shared_from_this(), done = std::move(done), child_path, offered = std::move(offered)](
          grpc::Status status, node::v1::AddChildResponse response) mutable {
        // Only this call's offers: a sibling of the same name keeps its own.
        if (!status.ok()) self->RemoveOffers(child_path, &offered);
        (void)self->dispatcher_.Post([done = std::move(done), status = std::move(status),
                                      path = response.child_path()]() mutable {
          if (status.ok()) {
            done(path);
          } else {
            done(Fail(rpc::FromStatus(status, "AddChild")));
          }
        });
      });
}

void DriverInstance::RemoveChild(std::string name,
                                 std::move_only_function<void(Result<void>)> done) {
  node::v1::RemoveNodeRequest request;
  request.set_node_token(config_.node_token);
  std::string child_path = node_path() + "." + name;
  request.set_path(child_path);
  auto* stub = env_.node_channel;
  rpc::CallAsync<node::v1::RemoveNodeRequest, node::v1::RemoveNodeResponse>(
      std::chrono::duration_cast<std::chrono::milliseconds>(kNodeCallTimeout), std::move(request),
      [stub](auto* ctx, auto* req, auto* resp, auto cb) {
        stub->async()->RemoveNode(ctx, req, resp, std::move(cb));
      },
      [self = shared_from_this(), done = std::move(done), child_path](
          grpc::Status status, node::v1::RemoveNodeResponse) mutable {
        // The child's subtree has stopped: nothing uses its offers now.
        if (status.ok()) self->RemoveOffers(child_path);
        (void)self->dispatcher_.Post(
            [done = std::move(done), status = std::move(status)]() mutable {
              done(status.ok() ? Ok() : Result<void>(Fail(rpc::FromStatus(status, "RemoveNode"))));
            });
      });
}

void DriverInstance::AcquireWakeLease(std::string name,
                                      std::move_only_function<void(Result<WakeLease>)> done) {
  AcquireNodeLease(
      env_.node_channel, config_.node_token, std::move(name),
      [self = shared_from_this(), done = std::move(done)](Result<WakeLease> lease) mutable {
        // If the dispatcher is gone, the task (and the lease) is
        // destroyed here, which releases the lease.
        (void)self->dispatcher_.Post([done = std::move(done), lease = std::move(lease)]() mutable {
          done(std::move(lease));
        });
      });
}

void DriverInstance::HandOffWakeLease(WakeLease lease, std::string token,
                                      std::move_only_function<void(Result<void>)> done) {
  auto finish = [self = shared_from_this(), done = std::move(done)](Result<void> result) mutable {
    (void)self->dispatcher_.Post(
        [done = std::move(done), result = std::move(result)]() mutable { done(std::move(result)); });
  };
  if (!lease) {
    finish(Fail(ErrorCode::kInvalidArgument, "no wake lease to hand off"));
    return;
  }
  node::v1::HandOffWakeLeaseRequest request;
  request.set_node_token(config_.node_token);
  request.set_lease_id(lease.id());
  request.set_token(std::move(token));
  auto* stub = env_.node_channel;
  rpc::CallAsync<node::v1::HandOffWakeLeaseRequest, power::v1::HandOffWakeLeaseResponse>(
      std::chrono::seconds(10), std::move(request),
      [stub](auto* ctx, auto* req, auto* resp, auto cb) {
        stub->async()->HandOffWakeLease(ctx, req, resp, std::move(cb));
      },
      // The lease is held until the manager has recorded the hand-off, and
      // released (a no-op for the manager, which keeps it for the client)
      // only then.
      [lease = std::move(lease), finish = std::move(finish)](
          grpc::Status status, power::v1::HandOffWakeLeaseResponse) mutable {
        lease.Release();
        finish(status.ok() ? Ok()
                           : Result<void>(Fail(rpc::FromStatus(status, "HandOffWakeLease"))));
      });
}

Result<WakeVector> DriverInstance::ArmWakeVector(int fd, short events, std::string reason,
                                                 WakeHandler on_wake) {
  if (!config_.args.wake_capable) {
    return Fail(ErrorCode::kFailedPrecondition,
                "driver '" + config_.args.driver_name + "' at " + node_path() +
                    " may not arm wake vectors: its manifest does not set power.wake_capable");
  }
  if (!on_wake) return Fail(ErrorCode::kInvalidArgument, "wake vector needs a handler");
  std::weak_ptr<DriverInstance> weak = weak_from_this();
  auto watch = env_.runtime->reactor().FdReady(
      fd, events,
      [weak, reason = std::move(reason), on_wake = std::move(on_wake)](Completion c) mutable {
        auto self = weak.lock();
        if (self == nullptr || c.result < 0) return;  // Disarmed or failed.
        self->OnWakeVector(c.result, reason, std::move(on_wake));
      },
      {.dispatcher = wake_dispatcher_.borrow()});
  TRELLIS_ASSIGN_OR_RETURN(Operation op, std::move(watch), "while arming a wake vector");
  return WakeVector(std::move(op));
}

void DriverInstance::OnWakeVector(int revents, const std::string& reason, WakeHandler on_wake) {
  // The handler is parked (or posted) before the wake is reported: the
  // resume the report causes is a later system task on the same
  // dispatcher, so it always finds the handler and runs it first.
  Clock::time_point at = Clock::now();
  OnDispatcher(
      [self = shared_from_this(), revents, reason, at, on_wake = std::move(on_wake)]() mutable {
        Task task = [revents, on_wake = std::move(on_wake)]() mutable { on_wake(revents); };
        if (self->state_ == State::kSuspending || self->state_ == State::kSuspended) {
          self->pending_wake_.push_back(std::move(task));
        } else {
          (void)self->dispatcher_.Post(std::move(task));
        }
        self->ReportWakeAt(reason, at);
      });
}

Task DriverInstance::TakeWakeTask() {
  if (pending_wake_.empty()) return nullptr;
  return [tasks = std::exchange(pending_wake_, {})]() mutable {
    for (auto& task : tasks) task();
  };
}

void DriverInstance::Connect(
    std::string_view protocol,
    std::move_only_function<void(Result<std::unique_ptr<ProtocolClient>>)> done) {
  // A composite's offers are "<parent>/<protocol>".
  std::string_view served = protocol.substr(protocol.find('/') == std::string_view::npos
                                                ? 0
                                                : protocol.find('/') + 1);
  if (served != BlockProtocol::kName) {
    (void)dispatcher_.Post([done = std::move(done), protocol = std::string(protocol)]() mutable {
      done(Fail(ErrorCode::kInvalidArgument,
                "drivers cannot connect to '" + protocol + "': no client for it in this host"));
    });
    return;
  }
  node::v1::ConnectRequest request;
  request.set_node_token(config_.node_token);
  request.set_protocol(std::string(protocol));
  auto* stub = env_.node_channel;
  rpc::CallAsync<node::v1::ConnectRequest, node::v1::ConnectResponse>(
      std::chrono::duration_cast<std::chrono::milliseconds>(kNodeCallTimeout), std::move(request),
      [stub](auto* ctx, auto* req, auto* resp, auto cb) {
        stub->async()->Connect(ctx, req, resp, std::move(cb));
      },
      [self = shared_from_this(), done = std::move(done)](
          grpc::Status status, node::v1::ConnectResponse response) mutable {
        if (!status.ok()) {
          (void)self->dispatcher_.Post(
              [done = std::move(done), status = std::move(status)]() mutable {
                done(Fail(rpc::FromStatus(status, "Connect")));
              });
          return;
        }
        UnownedDispatcher client = self->dispatcher_.borrow();
        if (response.host_id() == self->env_.host_id) {
          // The server is in this host: call it directly, no gRPC.
          auto server = self->env_.registry->Authorize(response.token(), BlockProtocol::kName);
          if (!server) {
            (void)client.Post([done = std::move(done), error = server.error()]() mutable {
              done(Fail(error.WithContext("Connect")));
            });
            return;
          }
          ConnectLocalBlock(std::move(server->second), server->first.node_path, client,
                            std::move(done));
          return;
        }
        ConnectRemoteBlock(response.endpoint(), response.token(), client, std::move(done));
      });
}

void DriverInstance::ReportWake(std::string reason) {
  ReportWakeAt(std::move(reason), Clock::now());
}

void DriverInstance::ReportWakeAt(std::string reason, Clock::time_point at) {
  static_assert(std::is_same_v<Clock, std::chrono::steady_clock>,
                "event_monotonic_ns is CLOCK_MONOTONIC, which steady_clock reads on Linux");
  node::v1::ReportWakeRequest request;
  request.set_node_token(config_.node_token);
  request.set_reason(std::move(reason));
  request.set_event_monotonic_ns(static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count()));
  auto* stub = env_.node_channel;
  rpc::CallAsync<node::v1::ReportWakeRequest, node::v1::ReportWakeResponse>(
      std::chrono::duration_cast<std::chrono::milliseconds>(kNodeCallTimeout), std::move(request),
      [stub](auto* ctx, auto* req, auto* resp, auto cb) {
        stub->async()->ReportWake(ctx, req, resp, std::move(cb));
      },
      [self = shared_from_this()](grpc::Status status, node::v1::ReportWakeResponse) {
        if (!status.ok()) {
          self->Log(LogLevel::kWarning, "reporting a wake failed: " + status.error_message());
        }
      });
}

void DriverInstance::Log(LogLevel level, std::string_view message) {
  std::fprintf(stderr, "[%s] %s@%s %s: %.*s\n", env_.host_id.c_str(),
               config_.args.driver_name.c_str(), config_.args.node_path.c_str(), LevelName(level),
               static_cast<int>(message.size()), message.data());
}

}  // namespace trellis::host
