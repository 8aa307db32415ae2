#include "runtime/host/driver_instance.h"

#include <algorithm>
#include <cstdio>

#include "runtime/driver/device_protocol.h"
#include "runtime/rpc/async_call.h"
#include "runtime/rpc/properties.h"
#include "runtime/rpc/status.h"

namespace trellis::host {

namespace {

using namespace std::chrono_literals;
constexpr auto kNodeCallTimeout = 10s;

// Protocols a host knows how to serve to clients.
bool IsKnownProtocol(std::string_view name) { return name == DeviceProtocol::kName; }

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarning: return "warning";
    case LogLevel::kError: return "error";
  }
  return "info";
}

}  // namespace

DriverInstance::DriverInstance(HostEnv env, Config config)
    : env_(std::move(env)),
      config_(std::move(config)),
      dispatcher_(Dispatcher::Create(
          *env_.runtime, {.name = config_.args.driver_name + "@" + config_.args.node_path,
                          .power_managed = config_.args.power_managed})) {}

DriverInstance::~DriverInstance() = default;

void DriverInstance::OnDispatcher(Task fn) {
  // A failure means the dispatcher is shut down: the instance is gone and
  // the task (with whatever completion it owns) is dropped.
  (void)dispatcher_.PostSystem(std::move(fn));
}

void DriverInstance::Start(Done done) {
  OnDispatcher([self = shared_from_this(), done = std::move(done)]() mutable {
    if (self->state_ != State::kCreated) {
      done(Fail(ErrorCode::kFailedPrecondition, "driver at " + self->node_path() + " already started"));
      return;
    }
    self->state_ = State::kStarting;
    self->driver_ = self->config_.library->exports().create(self.get());
    if (self->driver_ == nullptr) {
      self->state_ = State::kStopped;
      self->Teardown([done = std::move(done), self]() mutable {
        done(Fail(ErrorCode::kInternal, "driver '" + self->config_.args.driver_name +
                                            "' could not be constructed"));
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
    self->driver_->Start(StartCompleter(
        std::move(on_started),
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
      self->driver_->Stop(StopCompleter([self, done = std::move(done)]() mutable {
        self->OnDispatcher([self, done = std::move(done)]() mutable {
          self->state_ = State::kStopped;
          self->Teardown(std::move(done));
        });
      }));
    };
    if (self->state_ != State::kSuspended) {
      stop();
      return;
    }
    // Stop while suspended resumes first (seed 000).
    self->driver_->SystemResume(
        std::nullopt,
        ResumeCompleter(
            [self, stop = std::move(stop)](Result<void>) mutable {
              self->OnDispatcher([self, stop = std::move(stop)]() mutable {
                (void)self->dispatcher_.Resume();
                self->state_ = State::kRunning;
                stop();
              });
            },
            Fail(ErrorCode::kInternal, "dropped resume completer")));
  });
}

void DriverInstance::Suspend(Done done) {
  if (!config_.args.power_managed) {
    done(Fail(ErrorCode::kFailedPrecondition,
              "driver at " + node_path() + " is not power-managed"));
    return;
  }
  OnDispatcher([self = shared_from_this(), done = std::move(done)]() mutable {
    if (self->state_ != State::kRunning) {
      done(Fail(ErrorCode::kFailedPrecondition, "driver at " + self->node_path() + " is not running"));
      return;
    }
    // Stop starting the driver's tasks and let the running one finish, then
    // call the hook (as a system task: the managed queue stays held).
    auto suspended = self->dispatcher_.Suspend([self, done = std::move(done)]() mutable {
      self->OnDispatcher([self, done = std::move(done)]() mutable {
        self->driver_->SystemSuspend(SuspendCompleter(
            [self, done = std::move(done)](Result<void> result) mutable {
              self->OnDispatcher([self, done = std::move(done), result = std::move(result)]() mutable {
                if (result) {
                  self->state_ = State::kSuspended;
                } else {
                  (void)self->dispatcher_.Resume();  // Still running: reopen the queue.
                }
                done(std::move(result));
              });
            },
            Fail(ErrorCode::kInternal, "the driver dropped its suspend completer")));
      });
    });
    if (!suspended) done(Fail(suspended.error()));
  });
}

void DriverInstance::Resume(std::optional<WakeLease> lease, Done done) {
  OnDispatcher([self = shared_from_this(), lease = std::move(lease), done = std::move(done)]() mutable {
    if (self->state_ != State::kSuspended) {
      done(Fail(ErrorCode::kFailedPrecondition, "driver at " + self->node_path() + " is not suspended"));
      return;
    }
    self->driver_->SystemResume(
        std::move(lease),
        ResumeCompleter(
            [self, done = std::move(done)](Result<void> result) mutable {
              self->OnDispatcher([self, done = std::move(done), result = std::move(result)]() mutable {
                // Reopen the queue even if the hook failed, so Stop can run.
                (void)self->dispatcher_.Resume();
                self->state_ = State::kRunning;
                done(std::move(result));
              });
            },
            Fail(ErrorCode::kInternal, "the driver dropped its resume completer")));
  });
}

void* DriverInstance::FindProtocol(std::string_view protocol) const {
  MutexLock lock(mu_);
  auto it = protocols_.find(protocol);
  return it == protocols_.end() ? nullptr : it->second;
}

std::vector<std::string> DriverInstance::served_protocols() const {
  MutexLock lock(mu_);
  std::vector<std::string> names;
  for (const auto& [name, impl] : protocols_) names.push_back(name);
  return names;
}

Result<void> DriverInstance::ServeProtocol(std::string_view protocol, void* impl) {
  if (!IsKnownProtocol(protocol)) {
    return Fail(ErrorCode::kInvalidArgument,
                "this host cannot serve unknown protocol '" + std::string(protocol) + "'");
  }
  const auto& exposes = config_.exposes;
  if (std::find(exposes.begin(), exposes.end(), protocol) == exposes.end()) {
    return Fail(ErrorCode::kInvalidArgument,
                "protocol '" + std::string(protocol) + "' is not listed in the manifest's exposes");
  }
  MutexLock lock(mu_);
  if (!protocols_.emplace(std::string(protocol), impl).second) {
    return Fail(ErrorCode::kAlreadyExists, "protocol '" + std::string(protocol) + "' is already served");
  }
  return Ok();
}

void DriverInstance::AddChild(ChildArgs args,
                              std::move_only_function<void(Result<std::string>)> done) {
  node::v1::AddChildRequest request;
  request.set_node_token(config_.node_token);
  request.set_name(std::move(args.name));
  rpc::ToProto(args.properties, request.mutable_properties());
  auto* stub = env_.node_channel;
  rpc::CallAsync<node::v1::AddChildRequest, node::v1::AddChildResponse>(
      std::chrono::duration_cast<std::chrono::milliseconds>(kNodeCallTimeout), std::move(request),
      [stub](auto* ctx, auto* req, auto* resp, auto cb) {
        stub->async()->AddChild(ctx, req, resp, std::move(cb));
      },
      [self = shared_from_this(), done = std::move(done)](grpc::Status status,
                                                         node::v1::AddChildResponse response) mutable {
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
  request.set_path(node_path() + "." + name);
  auto* stub = env_.node_channel;
  rpc::CallAsync<node::v1::RemoveNodeRequest, node::v1::RemoveNodeResponse>(
      std::chrono::duration_cast<std::chrono::milliseconds>(kNodeCallTimeout), std::move(request),
      [stub](auto* ctx, auto* req, auto* resp, auto cb) {
        stub->async()->RemoveNode(ctx, req, resp, std::move(cb));
      },
      [self = shared_from_this(), done = std::move(done)](grpc::Status status,
                                                         node::v1::RemoveNodeResponse) mutable {
        (void)self->dispatcher_.Post([done = std::move(done), status = std::move(status)]() mutable {
          done(status.ok() ? Ok() : Result<void>(Fail(rpc::FromStatus(status, "RemoveNode"))));
        });
      });
}

void DriverInstance::AcquireWakeLease(std::string name,
                                      std::move_only_function<void(Result<WakeLease>)> done) {
  (void)name;
  (void)dispatcher_.Post([done = std::move(done)]() mutable {
    done(Fail(ErrorCode::kUnimplemented, "wake leases are not available in this host yet"));
  });
}

void DriverInstance::Log(LogLevel level, std::string_view message) {
  std::fprintf(stderr, "[%s] %s@%s %s: %.*s\n", env_.host_id.c_str(),
               config_.args.driver_name.c_str(), config_.args.node_path.c_str(), LevelName(level),
               static_cast<int>(message.size()), message.data());
}

}  // namespace trellis::host
