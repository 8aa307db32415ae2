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
// Command(2, alarm_id) cancels it.
constexpr uint32_t kAlarmCancelMinor = 2;
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
    target.suspend_target = std::chrono::milliseconds(power.suspend_target_ms());
    target.resume_target = std::chrono::milliseconds(power.resume_target_ms());
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

void Manager::QueuePowerCall(bool suspend, const power::Target& target,
                             std::optional<power::LeaseGrant> lease, CallDone done) {
  if (LiveHostOf(target) == nullptr) {
    (void)dispatcher_.Post([done = std::move(done), path = target.node_path]() mutable {
      done(Fail(ErrorCode::kUnavailable, "the driver at " + path + " is no longer running"));
    });
    return;
  }
  PowerBatch& batch = (suspend ? suspend_batches_ : resume_batches_)[target.host_id];
  batch.targets.push_back(target);
  batch.leases.push_back(std::move(lease));
  batch.done.push_back(std::move(done));
  if (!power_flush_posted_) {
    power_flush_posted_ = true;
    (void)dispatcher_.Post([this] { FlushPowerCalls(); });
  }
}

void Manager::FlushPowerCalls() {
  power_flush_posted_ = false;
  auto suspends = std::exchange(suspend_batches_, {});
  auto resumes = std::exchange(resume_batches_, {});
  for (auto& [host_id, batch] : suspends) SendPowerBatch(true, host_id, std::move(batch));
  for (auto& [host_id, batch] : resumes) SendPowerBatch(false, host_id, std::move(batch));
}

void Manager::SendPowerBatch(bool suspend, const std::string& host_id, PowerBatch batch) {
  auto host = hosts_.find(host_id);
  auto fail_all = [&](const std::string& why) {
    for (size_t i = 0; i < batch.done.size(); ++i) {
      (void)dispatcher_.Post([done = std::move(batch.done[i]), why]() mutable {
        done(Fail(ErrorCode::kUnavailable, why));
      });
    }
  };
  if (host == hosts_.end() || !host->second->stub ||
      host->second->state != host::v1::HOST_STATE_RUNNING) {
    fail_all("host " + host_id + " is not running");
    return;
  }
  auto* stub = host->second->stub.get();
  uint64_t generation = host->second->generation;
  std::chrono::milliseconds longest{0};
  for (const auto& target : batch.targets) {
    longest = std::max(longest, suspend ? target.suspend_timeout : target.resume_timeout);
  }
  // The host enforces each hook's deadline; this one only catches a host
  // that stopped answering altogether.
  auto call_deadline = longest + std::chrono::seconds(2);
  host::v1::SuspendDriversRequest suspend_request;
  host::v1::ResumeDriversRequest resume_request;
  for (size_t i = 0; i < batch.targets.size(); ++i) {
    const power::Target& target = batch.targets[i];
    if (suspend) {
      auto* entry = suspend_request.add_drivers();
      entry->set_node_path(target.node_path);
      entry->set_deadline_ms(static_cast<uint32_t>(target.suspend_timeout.count()));
    } else {
      auto* entry = resume_request.add_drivers();
      entry->set_node_path(target.node_path);
      entry->set_deadline_ms(static_cast<uint32_t>(target.resume_timeout.count()));
      if (const auto& lease = batch.leases[i]) {
        entry->mutable_lease()->set_lease_id(lease->id);
        entry->mutable_lease()->set_name(lease->name);
      }
    }
  }
  auto on_response = [this, suspend, host_id, generation, batch = std::move(batch)](
                         grpc::Status status, host::v1::PowerBatchResponse response) mutable {
    auto posted = dispatcher_.RunOrPost([this, suspend, host_id, generation, batch = std::move(batch),
                                    status = std::move(status),
                                    response = std::move(response)]() mutable {
      bool kill = !status.ok() && status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
      const char* hook = suspend ? "suspend" : "resume";
      for (size_t i = 0; i < batch.done.size(); ++i) {
        if (!status.ok()) {
          batch.done[i](Fail(rpc::FromStatus(status, std::string(hook) + " on host " + host_id)));
          continue;
        }
        if (static_cast<int>(i) >= response.results_size()) {
          batch.done[i](Fail(ErrorCode::kInternal, "host " + host_id + " answered too few results"));
          continue;
        }
        const auto& r = response.results(static_cast<int>(i));
        if (r.code() == 0) {
          batch.done[i](r.duration_us());
        } else if (r.code() == static_cast<int>(grpc::StatusCode::DEADLINE_EXCEEDED)) {
          // A hung driver: its host is killed and handled as a crash.
          kill = true;
          batch.done[i](Fail(ErrorCode::kDeadlineExceeded,
                             std::string(hook) + ": " + r.message() + "; host " + host_id +
                                 " was killed"));
        } else {
          batch.done[i](Fail(static_cast<ErrorCode>(r.code()), r.message()));
        }
      }
      auto host = hosts_.find(host_id);
      if (kill && host != hosts_.end() && host->second->generation == generation &&
          host->second->state == host::v1::HOST_STATE_RUNNING) {
        launcher_->Kill(host->second->launched);
      }
      EndWork();
    });
    if (!posted) EndWork();
  };
  BeginWork();
  if (suspend) {
    rpc::CallAsync<host::v1::SuspendDriversRequest, host::v1::PowerBatchResponse>(
        call_deadline, std::move(suspend_request),
        [stub](auto* ctx, auto* req, auto* resp, auto cb) {
          stub->async()->SuspendDrivers(ctx, req, resp, std::move(cb));
        },
        std::move(on_response));
  } else {
    rpc::CallAsync<host::v1::ResumeDriversRequest, host::v1::PowerBatchResponse>(
        call_deadline, std::move(resume_request),
        [stub](auto* ctx, auto* req, auto* resp, auto cb) {
          stub->async()->ResumeDrivers(ctx, req, resp, std::move(cb));
        },
        std::move(on_response));
  }
}

void Manager::SuspendDriver(const power::Target& target, CallDone done) {
  QueuePowerCall(true, target, std::nullopt, std::move(done));
}

void Manager::ResumeDriver(const power::Target& target, std::optional<power::LeaseGrant> lease,
                           CallDone done) {
  QueuePowerCall(false, target, std::move(lease), std::move(done));
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
  PeerCredentials self{.pid = getpid(), .uid = getuid(), .gid = getgid()};
  GrantClient(alarm, alarm, kDeviceProtocol, self,
              [this, after, done = std::move(done)](Result<ClientGrant> grant) mutable {
                if (!grant) {
                  done(Fail(grant.error().WithContext("granting the manager access to the alarm")));
                  return;
                }
                CommandAlarm(std::move(*grant), after, std::move(done));
              });
}

void Manager::CommandAlarm(ClientGrant grant, std::chrono::milliseconds after,
                           std::move_only_function<void(Result<void>)> done) {
  auto channel = grpc::CreateChannel(grant.endpoint, grpc::InsecureChannelCredentials());
  auto device = std::shared_ptr<device::v1::Device::Stub>(device::v1::Device::NewStub(channel));
  device::v1::CommandRequest command;
  command.set_minor_num(kAlarmArmMinor);
  command.set_arg1(static_cast<uint64_t>(after.count()));
  command.set_arg2(1);  // Wake the system.
  BeginWork();
  rpc::CallAsync<device::v1::CommandRequest, device::v1::CommandResponse>(
      5000ms, std::move(command),
      [device, token = grant.token](auto* ctx, auto* req, auto* resp, auto cb) {
        ctx->AddMetadata("trellis-token", token);
        device->async()->Command(ctx, req, resp, std::move(cb));
      },
      [this, device, token = grant.token, done = std::move(done)](
          grpc::Status status, device::v1::CommandResponse response) mutable {
        auto posted = dispatcher_.Post([this, device, token, done = std::move(done), status,
                                        id = response.value()]() mutable {
          if (status.ok()) armed_alarm_ = ArmedAlarm{device, token, id};
          done(status.ok() ? Ok()
                           : Result<void>(Fail(rpc::FromStatus(status, "arming the alarm"))));
          EndWork();
        });
        if (!posted) EndWork();
      });
}

void Manager::GrantLeaseOnStream(
    std::shared_ptr<rpc::ServerStream<power::v1::WakeLeaseEvent>> stream, power::LeaseInfo info) {
  // Release requests, and the end of a lease revoked or handed off.
  info.notify = [weak = std::weak_ptr(stream)](const power::v1::WakeLeaseEvent& event, bool last) {
    auto stream = weak.lock();
    if (stream == nullptr) return;
    stream->Send(event);
    if (last) stream->Close(grpc::Status::OK);  // After the event.
  };
  auto id = governor_->AcquireLease(std::move(info));
  if (!id) {
    stream->Finish(rpc::ToStatus(id.error()));
    return;
  }
  power::v1::WakeLeaseEvent granted;
  granted.mutable_granted()->set_lease_id(*id);
  stream->Send(std::move(granted));
  // The holder closing the stream, cancelling it or dying releases it.
  stream->OnClosed([this, id = *id] {
    (void)dispatcher_.Post([this, id] { governor_->ReleaseLease(id); });
  });
}

void Manager::CancelWakeAlarm() {
  auto alarm = std::exchange(armed_alarm_, std::nullopt);
  if (!alarm) return;
  // Woken some other way: the alarm must not fire into a later suspend.
  device::v1::CommandRequest command;
  command.set_minor_num(kAlarmCancelMinor);
  command.set_arg1(static_cast<uint64_t>(alarm->id));
  auto device = alarm->device;
  rpc::CallAsync<device::v1::CommandRequest, device::v1::CommandResponse>(
      5000ms, std::move(command),
      [device, token = alarm->token](auto* ctx, auto* req, auto* resp, auto cb) {
        ctx->AddMetadata("trellis-token", token);
        device->async()->Command(ctx, req, resp, std::move(cb));
      },
      // NOT_FOUND: it fired (and woke the system) already.
      [device](grpc::Status, device::v1::CommandResponse) {});
}

void Manager::PowerEvent(const power::v1::PowerEvent& event) {
  if (event.state() == power::v1::SYSTEM_STATE_RUNNING) CancelWakeAlarm();
  if (options_.log_events) {
    std::fprintf(stderr, "trellis-manager: power: %s%s%s\n",
                 power::v1::SystemState_Name(event.state()).c_str(),
                 event.detail().empty() ? "" : " — ", event.detail().c_str());
  }
  std::erase_if(power_watchers_, [&](const auto& watcher) { return !watcher->Send(event); });
}

}  // namespace trellis::manager
