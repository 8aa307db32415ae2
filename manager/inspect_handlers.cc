// DriverManager.Inspect: per-driver counters from the manager (starts,
// crashes, log levels), the governor (suspend/resume times) and each host
// (client calls), asked of every running host in parallel.
#include <map>

#include "manager/driver_manager_service.h"
#include "manager/join.h"
#include "manager/manager.h"
#include "runtime/rpc/async_call.h"
#include "runtime/rpc/status.h"

namespace trellis::manager {

namespace {

using rpc::UnaryFinisher;

constexpr auto kHostTimeout = std::chrono::seconds(5);

bool Under(const std::string& path, const std::string& prefix) {
  return prefix.empty() || path == prefix ||
         (path.starts_with(prefix) && path.size() > prefix.size() && path[prefix.size()] == '.');
}

}  // namespace

grpc::ServerUnaryReactor* DriverManagerService::Inspect(grpc::CallbackServerContext* context,
                                                        const v1::InspectRequest* request,
                                                        v1::InspectResponse* response) {
  auto* reactor = context->DefaultReactor();
  UnaryFinisher finisher(reactor, kShuttingDown);
  (void)manager_->dispatcher_.Post([this, request, response,
                                    finisher = std::move(finisher)]() mutable {
    Manager& m = *manager_;
    // What the manager knows, now.
    std::map<std::string, v1::DriverCounters> by_node;
    m.topology_.PreOrder(m.topology_.root(), [&](Node* node) {
      if (node->driver.empty() || !Under(node->path(), request->node_prefix())) return;
      v1::DriverCounters& c = by_node[node->path()];
      c.set_node_path(node->path());
      c.set_driver(node->driver);
      c.set_host_id(node->host_id);
      c.set_state(StateToProto(node->state));
      c.set_starts(node->starts);
      c.set_crashes(node->crashes);
      LogRing::LevelCounts logged = m.logs_.CountsOf(node->path());
      c.set_log_warnings(logged.warnings);
      c.set_log_errors(logged.errors);
    });
    const power::v1::SuspendStats stats = m.governor_->Stats();
    for (const auto& latency : stats.drivers()) {
      auto it = by_node.find(latency.node_path());
      if (it == by_node.end()) continue;
      *it->second.mutable_suspend() = latency.suspend();
      *it->second.mutable_resume() = latency.resume();
    }
    // Then each running host's call counts; the reply goes once all have
    // answered (or timed out).
    std::vector<Manager::HostRecord*> hosts;
    for (auto& [id, host] : m.hosts_) {
      if (host->stub && host->state == host::v1::HOST_STATE_RUNNING) hosts.push_back(host.get());
    }
    auto counts = std::make_shared<std::map<std::string, uint64_t>>();
    auto joined = JoinAfter(hosts.size(), [by_node = std::move(by_node), counts, response,
                                           finisher = std::move(finisher)]() mutable {
      for (auto& [path, c] : by_node) {
        auto it = counts->find(path);
        if (it != counts->end()) c.set_client_calls(it->second);
        *response->add_drivers() = std::move(c);
      }
      finisher.Finish(grpc::Status::OK);
    });
    for (Manager::HostRecord* host : hosts) {
      m.BeginWork();
      auto* stub = host->stub.get();
      rpc::CallAsync<host::v1::GetCountersRequest, host::v1::GetCountersResponse>(
          kHostTimeout, {},
          [stub](auto* ctx, auto* req, auto* resp, auto cb) {
            stub->async()->GetCounters(ctx, req, resp, std::move(cb));
          },
          [&m, counts, joined](grpc::Status status, host::v1::GetCountersResponse reply) mutable {
            auto posted = m.dispatcher_.Post([&m, counts, joined, status = std::move(status),
                                              reply = std::move(reply)] {
              if (status.ok()) {
                for (const auto& d : reply.drivers()) (*counts)[d.node_path()] = d.client_calls();
              }
              joined();
              m.EndWork();
            });
            if (!posted) m.EndWork();
          });
    }
  });
  return reactor;
}

}  // namespace trellis::manager
