#include "runtime/host/host_service.h"

#include <google/protobuf/util/json_util.h>
#include <unistd.h>

#include <atomic>
#include <optional>
#include <chrono>
#include <map>

#include "runtime/host/wake_lease_client.h"
#include "runtime/mutex.h"
#include "runtime/rpc/properties.h"
#include "runtime/rpc/status.h"

namespace trellis::host {

namespace {

using rpc::StatusOf;
using rpc::ToStatus;

uint64_t MicrosSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                               start)
      .count();
}

}  // namespace

std::shared_ptr<DriverInstance> HostService::FindOrFinish(const std::string& node_path,
                                                          grpc::ServerUnaryReactor* reactor) {
  auto instance = registry_->Find(node_path);
  if (instance == nullptr) {
    reactor->Finish(StatusOf(ErrorCode::kNotFound, "no driver at node " + node_path));
  }
  return instance;
}

grpc::ServerUnaryReactor* HostService::StartDriver(grpc::CallbackServerContext* context,
                                                   const v1::StartDriverRequest* request,
                                                   v1::StartDriverResponse* response) {
  auto* reactor = context->DefaultReactor();
  if (request->node_path().empty() || request->binary_path().empty() ||
      request->driver_name().empty()) {
    reactor->Finish(StatusOf(ErrorCode::kInvalidArgument,
                             "StartDriver needs driver_name, binary_path and node_path"));
    return reactor;
  }
  if (registry_->Find(request->node_path()) != nullptr) {
    reactor->Finish(StatusOf(ErrorCode::kAlreadyExists,
                             "a driver is already running at node " + request->node_path()));
    return reactor;
  }
  auto library = DriverLibrary::Load(request->binary_path());
  if (!library) {
    reactor->Finish(ToStatus(library.error()));
    return reactor;
  }
  auto properties = rpc::FromProto(request->properties());
  if (!properties) {
    reactor->Finish(ToStatus(properties.error()));
    return reactor;
  }
  DriverInstance::Config config;
  config.args.driver_name = request->driver_name();
  config.args.node_path = request->node_path();
  config.args.properties = std::move(*properties);
  config.args.power_managed = request->power_managed();
  config.args.wake_capable = request->wake_capable();
  if (request->has_config()) {
    std::string json;
    (void)google::protobuf::util::MessageToJsonString(request->config(), &json);
    config.args.config_json = json;
  }
  config.node_token = request->node_token();
  config.exposes.assign(request->exposes().begin(), request->exposes().end());
  config.library = *library;

  auto instance = std::make_shared<DriverInstance>(env_, std::move(config));
  if (auto added = registry_->Add(instance); !added) {
    reactor->Finish(ToStatus(added.error()));
    return reactor;
  }
  instance->Start([this, reactor, response, instance](Result<void> started) {
    if (!started) {
      registry_->Remove(instance->node_path());
      reactor->Finish(ToStatus(started.error()));
      return;
    }
    for (const auto& name : instance->served_protocols()) response->add_exposed_protocols(name);
    response->set_endpoint(endpoint_);
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* HostService::StopDriver(grpc::CallbackServerContext* context,
                                                  const v1::StopDriverRequest* request,
                                                  v1::StopDriverResponse*) {
  auto* reactor = context->DefaultReactor();
  auto instance = registry_->Remove(request->node_path());
  if (instance == nullptr) {
    reactor->Finish(StatusOf(ErrorCode::kNotFound, "no driver at node " + request->node_path()));
    return reactor;
  }
  instance->Stop([reactor, instance] { reactor->Finish(grpc::Status::OK); });
  return reactor;
}

grpc::ServerUnaryReactor* HostService::SuspendDriver(grpc::CallbackServerContext* context,
                                                     const v1::SuspendDriverRequest* request,
                                                     v1::SuspendDriverResponse* response) {
  auto* reactor = context->DefaultReactor();
  auto instance = FindOrFinish(request->node_path(), reactor);
  if (instance == nullptr) return reactor;
  auto start = std::chrono::steady_clock::now();
  instance->Suspend([reactor, response, start](Result<void> result) {
    response->set_duration_us(MicrosSince(start));
    reactor->Finish(ToStatus(result));
  });
  return reactor;
}

grpc::ServerUnaryReactor* HostService::ResumeDriver(grpc::CallbackServerContext* context,
                                                    const v1::ResumeDriverRequest* request,
                                                    v1::ResumeDriverResponse* response) {
  auto* reactor = context->DefaultReactor();
  auto instance = FindOrFinish(request->node_path(), reactor);
  if (instance == nullptr) return reactor;
  std::optional<WakeLease> lease;
  if (request->has_lease()) {
    lease = AdoptManagerLease(env_.node_channel, instance->node_token(),
                              request->lease().lease_id(), request->lease().name());
  }
  auto start = std::chrono::steady_clock::now();
  instance->Resume(std::move(lease), [reactor, response, start](Result<void> result) {
    response->set_duration_us(MicrosSince(start));
    reactor->Finish(ToStatus(result));
  });
  return reactor;
}

void HostService::RunBatch(std::vector<BatchEntry> entries, grpc::ServerUnaryReactor* reactor,
                           v1::PowerBatchResponse* response) {
  // Each result is set exactly once — by its hook or by its deadline — and
  // the call finishes with the last one.
  struct Batch {
    Mutex mu;
    size_t remaining TRELLIS_GUARDED_BY(mu) = 0;
    std::vector<bool> settled TRELLIS_GUARDED_BY(mu);
    grpc::ServerUnaryReactor* reactor;
    v1::PowerBatchResponse* response;
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();

    void Settle(size_t i, const Result<void>& result) {
      bool last = false;
      {
        MutexLock lock(mu);
        if (settled[i]) return;
        settled[i] = true;
        auto* r = response->mutable_results(static_cast<int>(i));
        r->set_duration_us(MicrosSince(start));
        if (!result) {
          r->set_code(static_cast<int32_t>(result.error().code()));
          r->set_message(result.error().message());
        }
        last = --remaining == 0;
      }
      if (last) reactor->Finish(grpc::Status::OK);
    }
  };
  auto batch = std::make_shared<Batch>();
  batch->reactor = reactor;
  batch->response = response;
  {
    MutexLock lock(batch->mu);
    batch->remaining = entries.size();
    batch->settled.assign(entries.size(), false);
    for (const auto& entry : entries) response->add_results()->set_node_path(entry.node_path);
  }
  if (entries.empty()) {
    reactor->Finish(grpc::Status::OK);
    return;
  }
  // One deadline task per distinct deadline, not one per driver.
  std::map<uint32_t, std::vector<size_t>> by_deadline;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].deadline_ms > 0) by_deadline[entries[i].deadline_ms].push_back(i);
  }
  for (auto& [ms, indexes] : by_deadline) {
    std::vector<std::string> paths;
    for (size_t i : indexes) paths.push_back(entries[i].node_path);
    (void)deadlines_.PostAfter(std::chrono::milliseconds(ms), [batch, ms, indexes = std::move(indexes),
                                                          paths = std::move(paths)] {
      for (size_t k = 0; k < indexes.size(); ++k) {
        batch->Settle(indexes[k], Fail(ErrorCode::kDeadlineExceeded,
                                       "the hook at " + paths[k] + " missed its " +
                                           std::to_string(ms) + " ms deadline"));
      }
    });
  }
  BatchScope scope;
  for (size_t i = 0; i < entries.size(); ++i) {
    BatchEntry& entry = entries[i];
    auto instance = registry_->Find(entry.node_path);
    if (instance == nullptr) {
      batch->Settle(i, Fail(ErrorCode::kNotFound, "no driver at node " + entry.node_path));
      continue;
    }
    entry.hook(*instance, [batch, i](Result<void> result) { batch->Settle(i, result); });
  }
}

grpc::ServerUnaryReactor* HostService::SuspendDrivers(grpc::CallbackServerContext* context,
                                                      const v1::SuspendDriversRequest* request,
                                                      v1::PowerBatchResponse* response) {
  std::vector<BatchEntry> entries;
  for (const auto& driver : request->drivers()) {
    entries.push_back({driver.node_path(), driver.deadline_ms(),
                       [](DriverInstance& instance, DriverInstance::Done done) {
                         instance.Suspend(std::move(done));
                       }});
  }
  auto* reactor = context->DefaultReactor();
  RunBatch(std::move(entries), reactor, response);
  return reactor;
}

grpc::ServerUnaryReactor* HostService::ResumeDrivers(grpc::CallbackServerContext* context,
                                                     const v1::ResumeDriversRequest* request,
                                                     v1::PowerBatchResponse* response) {
  std::vector<BatchEntry> entries;
  for (const auto& driver : request->drivers()) {
    std::optional<v1::WakeLeaseToken> token;
    if (driver.has_lease()) token = driver.lease();
    entries.push_back({driver.node_path(), driver.deadline_ms(),
                       [this, token](DriverInstance& instance, DriverInstance::Done done) {
                         std::optional<WakeLease> lease;
                         if (token) {
                           lease = AdoptManagerLease(env_.node_channel, instance.node_token(),
                                                     token->lease_id(), token->name());
                         }
                         instance.Resume(std::move(lease), std::move(done));
                       }});
  }
  auto* reactor = context->DefaultReactor();
  RunBatch(std::move(entries), reactor, response);
  return reactor;
}

grpc::ServerUnaryReactor* HostService::GrantAccess(grpc::CallbackServerContext* context,
                                                   const v1::GrantAccessRequest* request,
                                                   v1::GrantAccessResponse*) {
  auto* reactor = context->DefaultReactor();
  if (request->token().empty() || request->node_path().empty() || request->protocol().empty()) {
    reactor->Finish(StatusOf(ErrorCode::kInvalidArgument,
                             "GrantAccess needs token, node_path and protocol"));
    return reactor;
  }
  Grant grant{.node_path = request->node_path(),
              .server_path = request->server_node_path().empty() ? request->node_path()
                                                                 : request->server_node_path(),
              .protocol = request->protocol(),
              .caller = {.client_id = request->client_id(),
                         .uid = request->uid(),
                         .gid = request->gid(),
                         .pid = static_cast<pid_t>(request->pid())}};
  if (request->has_expires()) {
    grant.expires = std::chrono::system_clock::time_point(
        std::chrono::seconds(request->expires().seconds()) +
        std::chrono::nanoseconds(request->expires().nanos()));
  }
  registry_->AddGrant(request->token(), std::move(grant));
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* HostService::RevokeAccess(grpc::CallbackServerContext* context,
                                                    const v1::RevokeAccessRequest* request,
                                                    v1::RevokeAccessResponse*) {
  auto* reactor = context->DefaultReactor();
  registry_->RevokeGrant(request->token());
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* HostService::Ping(grpc::CallbackServerContext* context,
                                            const v1::PingRequest*, v1::PingResponse* response) {
  auto* reactor = context->DefaultReactor();
  response->set_pid(static_cast<uint32_t>(getpid()));
  response->set_driver_count(static_cast<uint32_t>(registry_->size()));
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* HostService::GetCounters(grpc::CallbackServerContext* context,
                                                   const v1::GetCountersRequest*,
                                                   v1::GetCountersResponse* response) {
  auto* reactor = context->DefaultReactor();
  for (const auto& instance : registry_->All()) {
    auto* counts = response->add_drivers();
    counts->set_node_path(instance->node_path());
    counts->set_client_calls(instance->client_calls());
  }
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

void HostService::StopAll(std::move_only_function<void()> done) {
  auto instances = registry_->All();
  if (instances.empty()) {
    done();
    return;
  }
  struct Pending {
    std::atomic<size_t> left;
    std::move_only_function<void()> done;
  };
  auto pending = std::make_shared<Pending>();
  pending->left = instances.size();
  pending->done = std::move(done);
  for (auto& instance : instances) {
    registry_->Remove(instance->node_path());
    instance->Stop([pending, instance] {
      if (pending->left.fetch_sub(1) == 1) pending->done();
    });
  }
}

grpc::ServerUnaryReactor* HostService::Shutdown(grpc::CallbackServerContext* context,
                                                const v1::ShutdownRequest*, v1::ShutdownResponse*) {
  auto* reactor = context->DefaultReactor();
  StopAll([this, reactor] {
    reactor->Finish(grpc::Status::OK);
    if (on_shutdown_) on_shutdown_();
  });
  return reactor;
}

}  // namespace trellis::host
