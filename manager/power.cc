// The manager's side of power management: what the governor drives
// (power::Platform) — the power-managed drivers of the topology, suspend and
// resume calls to their hosts with the manifest's deadlines, and the wake
// alarm. All of it runs on the manager's dispatcher.
#include <cstdio>

#include "manager/manager.h"
#include "runtime/rpc/async_call.h"
#include "runtime/rpc/status.h"
#include "trellis/device/v1/device.grpc.pb.h"

namespace trellis::manager {

namespace {

using namespace std::chrono_literals;

// The Device minor with which the alarm driver arms an alarm:
// Command(1, delay_ms, wake).
constexpr uint32_t kAlarmArmMinor = 1;
constexpr const char* kAlarmDriver = "alarm";
constexpr const char* kDeviceProtocol = "trellis.device.v1.Device";

std::chrono::milliseconds OrDefault(uint32_t ms, std::chrono::milliseconds fallback) {
  return ms == 0 ? fallback : std::chrono::milliseconds(ms);
}

}  // namespace

std::vector<power::Target> Manager::PowerTargets() {
  std::vector<power::Target> targets;
  std::map<const Node*, int> index;
  topology_.PreOrder(topology_.root(), [&](Node* node) {
    if (node->state != NodeState::kBound) return;
    auto driver = drivers_.find(node->driver);
    auto host = hosts_.find(node->host_id);
    if (driver == drivers_.end() || host == hosts_.end() ||
        host->second->state != host::v1::HOST_STATE_RUNNING) {
      return;
    }
    const auto& power = driver->second.file.manifest.power();
    if (!power.managed_dispatchers()) return;
    power::Target target;
    target.node_path = node->path();
    target.driver = node->driver;
    target.host_id = node->host_id;
    for (const Node* up = node->parent(); up != nullptr; up = up->parent()) {
      if (auto it = index.find(up); it != index.end()) {
        target.parent = it->second;
        break;
      }
    }
    target.suspend_timeout = OrDefault(power.suspend_timeout_ms(), options_.power_timeout);
    target.resume_timeout = OrDefault(power.resume_timeout_ms(), options_.power_timeout);
    index[node] = static_cast<int>(targets.size());
    targets.push_back(std::move(target));
  });
  return targets;
}

Manager::HostRecord* Manager::LiveHostOf(const power::Target& target) {
  Node* node = topology_.Find(target.node_path);
  if (node == nullptr || node->state != NodeState::kBound || node->host_id != target.host_id) {
    return nullptr;
  }
  auto host = hosts_.find(target.host_id);
  if (host == hosts_.end() || !host->second->stub ||
      host->second->state != host::v1::HOST_STATE_RUNNING) {
    return nullptr;
  }
  return host->second.get();
}

template <typename Request, typename Response>
void Manager::CallPowerHook(const power::Target& target, const char* hook,
                            std::chrono::milliseconds deadline, Request request,
                            const rpc::Invoke<Request, Response>& invoke, CallDone done) {
  HostRecord* host = LiveHostOf(target);
  if (host == nullptr) {
    (void)dispatcher_.Post([done = std::move(done), path = target.node_path]() mutable {
      done(Fail(ErrorCode::kUnavailable, "the driver at " + path + " is no longer running"));
    });
    return;
  }
  BeginWork();
  uint64_t generation = host->generation;
  rpc::CallAsync<Request, Response>(
      deadline, std::move(request), invoke,
      [this, target, hook, deadline, generation, done = std::move(done)](
          grpc::Status status, Response response) mutable {
        auto posted = dispatcher_.Post([this, target, hook, deadline, generation,
                                        done = std::move(done), status = std::move(status),
                                        duration = response.duration_us()]() mutable {
          if (status.ok()) {
            done(duration);
          } else if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
            // A hung driver: its host is killed and handled as a crash.
            auto host = hosts_.find(target.host_id);
            if (host != hosts_.end() && host->second->generation == generation &&
                host->second->state == host::v1::HOST_STATE_RUNNING) {
              launcher_->Kill(host->second->launched);
            }
            done(Fail(ErrorCode::kDeadlineExceeded,
                      std::string(hook) + " hook missed its " + std::to_string(deadline.count()) +
                          " ms deadline; host " + target.host_id + " was killed"));
          } else {
            done(Fail(rpc::FromStatus(status, std::string(hook))));
          }
          EndWork();
        });
        if (!posted) EndWork();
      });
}

void Manager::SuspendDriver(const power::Target& target, CallDone done) {
  HostRecord* host = LiveHostOf(target);
  auto* stub = host ? host->stub.get() : nullptr;
  host::v1::SuspendDriverRequest request;
  request.set_node_path(target.node_path);
  request.set_deadline_ms(static_cast<uint32_t>(target.suspend_timeout.count()));
  CallPowerHook<host::v1::SuspendDriverRequest, host::v1::SuspendDriverResponse>(
      target, "suspend", target.suspend_timeout, std::move(request),
      [stub](auto* ctx, auto* req, auto* resp, auto cb) {
        stub->async()->SuspendDriver(ctx, req, resp, std::move(cb));
      },
      std::move(done));
}

void Manager::ResumeDriver(const power::Target& target, std::optional<power::LeaseGrant> lease,
                           CallDone done) {
  HostRecord* host = LiveHostOf(target);
  auto* stub = host ? host->stub.get() : nullptr;
  host::v1::ResumeDriverRequest request;
  request.set_node_path(target.node_path);
  if (lease) {
    request.mutable_lease()->set_lease_id(lease->id);
    request.mutable_lease()->set_name(lease->name);
  }
  CallPowerHook<host::v1::ResumeDriverRequest, host::v1::ResumeDriverResponse>(
      target, "resume", target.resume_timeout, std::move(request),
      [stub](auto* ctx, auto* req, auto* resp, auto cb) {
        stub->async()->ResumeDriver(ctx, req, resp, std::move(cb));
      },
      std::move(done));
}

void Manager::ArmWakeAlarm(std::chrono::milliseconds after,
                           std::move_only_function<void(Result<void>)> done) {
  Node* alarm = nullptr;
  topology_.PreOrder(topology_.root(), [&](Node* node) {
    if (alarm == nullptr && node->state == NodeState::kBound && node->driver == kAlarmDriver) {
      alarm = node;
    }
  });
  auto host = alarm ? hosts_.find(alarm->host_id) : hosts_.end();
  if (alarm == nullptr || host == hosts_.end() || !host->second->stub) {
    (void)dispatcher_.Post([done = std::move(done)]() mutable {
      done(Fail(ErrorCode::kFailedPrecondition,
                "no running 'alarm' driver: --wake-after needs a node bound to it"));
    });
    return;
  }
  // The manager is the alarm's client, with a token of its own (revoked
  // with the node like any client token).
  std::string token = NewToken();
  client_tokens_[token] = {alarm->path(), kDeviceProtocol, host->second->id};
  host::v1::GrantAccessRequest grant;
  grant.set_token(token);
  grant.set_node_path(alarm->path());
  grant.set_protocol(kDeviceProtocol);
  grant.set_client_id(next_client_++);
  grant.set_uid(getuid());
  grant.set_gid(getgid());
  grant.set_pid(static_cast<uint32_t>(getpid()));
  auto* stub = host->second->stub.get();
  std::string endpoint = host->second->endpoint;
  BeginWork();
  rpc::CallAsync<host::v1::GrantAccessRequest, host::v1::GrantAccessResponse>(
      5000ms, std::move(grant),
      [stub](auto* ctx, auto* req, auto* resp, auto cb) {
        stub->async()->GrantAccess(ctx, req, resp, std::move(cb));
      },
      [this, token, endpoint, after, done = std::move(done)](
          grpc::Status status, host::v1::GrantAccessResponse) mutable {
        if (!status.ok()) {
          auto posted = dispatcher_.Post([this, done = std::move(done), status]() mutable {
            done(Fail(rpc::FromStatus(status, "granting the manager access to the alarm")));
            EndWork();
          });
          if (!posted) EndWork();
          return;
        }
        auto channel = grpc::CreateChannel(endpoint, grpc::InsecureChannelCredentials());
        auto device = std::shared_ptr<device::v1::Device::Stub>(device::v1::Device::NewStub(channel));
        device::v1::CommandRequest command;
        command.set_minor_num(kAlarmArmMinor);
        command.set_arg1(static_cast<uint64_t>(after.count()));
        command.set_arg2(1);  // Wake the system.
        rpc::CallAsync<device::v1::CommandRequest, device::v1::CommandResponse>(
            5000ms, std::move(command),
            [device, token](auto* ctx, auto* req, auto* resp, auto cb) {
              ctx->AddMetadata("trellis-token", token);
              device->async()->Command(ctx, req, resp, std::move(cb));
            },
            [this, device, done = std::move(done)](grpc::Status status,
                                                    device::v1::CommandResponse) mutable {
              auto posted = dispatcher_.Post([this, done = std::move(done), status]() mutable {
                done(status.ok() ? Ok()
                                 : Result<void>(Fail(rpc::FromStatus(status, "arming the alarm"))));
                EndWork();
              });
              if (!posted) EndWork();
            });
      });
}

void Manager::PowerEvent(const power::v1::PowerEvent& event) {
  if (options_.log_events) {
    std::fprintf(stderr, "trellis-manager: power: %s%s%s\n",
                 power::v1::SystemState_Name(event.state()).c_str(),
                 event.detail().empty() ? "" : " — ", event.detail().c_str());
  }
  std::erase_if(power_watchers_, [&](const auto& watcher) { return !watcher->Send(event); });
}

}  // namespace trellis::manager
