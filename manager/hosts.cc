// Manager: driver hosts — launching, watching, crash handling, shutdown.
#include <grpcpp/create_channel_posix.h>
#include <grpcpp/server_posix.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include "manager/manager.h"
#include "runtime/rpc/async_call.h"

namespace trellis::manager {

using manager::v1::TopologyEvent;

Result<Manager::HostRecord*> Manager::EnsureHost(const Node& node, const std::string& group) {
  std::string id = node.host_id;
  if (id.empty()) id = group.empty() ? "h-" + std::to_string(next_host_++) : "g-" + group;
  auto it = hosts_.find(id);
  if (it != hosts_.end() && it->second->state == host::v1::HOST_STATE_RUNNING) {
    return it->second.get();
  }
  if (it == hosts_.end()) {
    auto record = std::make_unique<HostRecord>();
    record->id = id;
    record->group = group;
    record->client_socket = (options_.runtime_dir / "hosts" / (id + ".sock")).string();
    it = hosts_.emplace(id, std::move(record)).first;
  }
  HostRecord& host = *it->second;
  bool relaunch = host.generation != 0;
  TRELLIS_TRY(LaunchHost(host), "while launching host " + id);
  if (relaunch) {
    ++host.restarts;
    Publish(TopologyEvent::KIND_HOST_RESTARTED, nullptr,
            "respawn " + std::to_string(host.restarts), id);
  }
  return &host;
}

Result<void> Manager::LaunchHost(HostRecord& host) {
  int control[2];
  int node[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, control) != 0) {
    return FailErrno(errno, "socketpair");
  }
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, node) != 0) {
    int err = errno;
    close(control[0]);
    close(control[1]);
    return FailErrno(err, "socketpair");
  }
  grpc::ChannelArguments args;
  host.channel = grpc::CreateCustomInsecureChannelFromFd("host-" + host.id, control[0], args);
  host.stub = host::v1::DriverHost::NewStub(host.channel);
  grpc::AddInsecureChannelFromFd(internal_server_.get(), node[0]);
  auto launched = launcher_->Launch({.host_id = host.id,
                                     .control_fd = control[1],
                                     .manager_fd = node[1],
                                     .client_socket = host.client_socket});
  if (!launched) {
    host.stub.reset();
    host.channel.reset();
    host.state = host::v1::HOST_STATE_CRASHED;
    return Fail(launched.error());
  }
  host.launched = *launched;
  host.generation = next_generation_++;
  host.state = host::v1::HOST_STATE_RUNNING;
  host.stopping = false;
  WatchHostExit(host);
  WatchHostLog(host);
  Publish(TopologyEvent::KIND_HOST_STARTED, nullptr,
          host.launched.pid > 0 ? "pid " + std::to_string(host.launched.pid) : "thread", host.id);
  return Ok();
}

void Manager::WatchHostExit(HostRecord& host) {
  auto op = runtime_->reactor().FdReady(
      host.launched.exit_fd, POLLIN,
      [this, id = host.id, generation = host.generation](Completion c) {
        if (c.result >= 0) OnHostExit(id, generation);
      },
      {.dispatcher = dispatcher_.borrow()});
  if (op) host.exit_watch = std::move(*op);
}

void Manager::WatchHostLog(HostRecord& host) {
  if (host.launched.log_fd < 0) return;
  auto op = runtime_->reactor().FdReady(
      host.launched.log_fd, POLLIN,
      [this, id = host.id, generation = host.generation](Completion c) {
        auto it = hosts_.find(id);
        if (c.result < 0 || it == hosts_.end() || it->second->generation != generation) return;
        ReadHostLog(*it->second, /*drain=*/false);
      },
      {.dispatcher = dispatcher_.borrow()});
  if (op) host.log_watch = std::move(*op);
}

void Manager::ReadHostLog(HostRecord& host, bool drain) {
  int fd = host.launched.log_fd;
  if (fd < 0) return;
  auto line = [&](std::string_view text) {
    std::fprintf(stderr, "%.*s\n", static_cast<int>(text.size()), text.data());
    const LogEntry& entry = logs_.AddHostLine(host.id, text);
    std::erase_if(log_followers_, [&](const LogFollower& follower) {
      return follower.filter.Matches(entry) && !follower.stream->Send(LogEntryToProto(entry));
    });
  };
  bool open = host.log_lines.ReadFrom(fd, line);
  if (!open || drain) {
    if (open) host.log_lines.Flush(line);  // At exit: an unfinished last line.
    host.log_watch = Operation();
    close(fd);
    host.launched.log_fd = -1;
    return;
  }
  WatchHostLog(host);
}

void Manager::OnHostExit(const std::string& id, uint64_t generation) {
  auto it = hosts_.find(id);
  if (it == hosts_.end() || it->second->generation != generation) return;
  HostRecord& host = *it->second;
  std::string how = launcher_->Reap(host.launched);
  ReadHostLog(host, /*drain=*/true);  // Its last words.
  close(host.launched.exit_fd);
  host.launched = LaunchedHost{};
  host.stub.reset();
  host.channel.reset();
  bool requested = std::exchange(host.restart_requested, false);
  bool expected = (host.stopping || shutting_down_) && !requested;
  host.state = expected ? host::v1::HOST_STATE_STOPPED : host::v1::HOST_STATE_CRASHED;
  if (expected) {
    if (host.nodes.empty()) hosts_.erase(it);
    return;
  }
  // Nodes stay assigned to the host (its id survives restarts); shallowest
  // first, since a parent's handling removes the children it added.
  std::vector<std::string> paths(host.nodes.begin(), host.nodes.end());
  std::sort(paths.begin(), paths.end(), [](const std::string& a, const std::string& b) {
    return std::count(a.begin(), a.end(), '.') < std::count(b.begin(), b.end(), '.');
  });
  if (!requested) Publish(TopologyEvent::KIND_HOST_CRASHED, nullptr, how, id);
  for (const std::string& path : paths) {
    Node* node = topology_.Find(path);
    if (node == nullptr || node->state == NodeState::kRemoving || node->host_id != id) continue;
    node_tokens_.erase(node->token);
    RevokeClientTokensFor(path);
    governor_->ReleaseLeasesOf(path);  // Leases the manager granted it on wake.
    NotifyClassWatchers(classes_.Depart(path));
    if (requested) {
      node->restarts = 0;  // RestartHost resets the budget.
      RestartInPlace(node);
    } else {
      RestartOrQuarantine(node, how);
    }
  }
}

void Manager::RestartInPlace(Node* node) {
  node->state = NodeState::kRemoving;
  RemoveSubtree(node, /*keep_root=*/true, [this, path = node->path()] {
    Node* node = topology_.Find(path);
    if (node == nullptr) return;
    node->token.clear();
    node->exposed.clear();
    node->state = NodeState::kUnbound;
    std::string driver = std::exchange(node->driver, "");
    auto record = drivers_.find(driver);
    if (record != drivers_.end() && !record->second.disabled) {
      StartDriver(node, record->second);
    } else {
      BindNode(node);
    }
  });
}

void Manager::RestartOrQuarantine(Node* node, const std::string& why) {
  ++node->crashes;
  auto driver = drivers_.find(node->driver);
  bool restart = driver != drivers_.end() && driver->second.file.manifest.host_restart_on_crash();
  if (!restart) {
    // Without host_restart_on_crash the node and its subtree go away.
    RemoveSubtree(node, /*keep_root=*/false, nullptr);
    return;
  }
  const auto& manifest = driver->second.file.manifest;
  uint32_t max_restarts =
      manifest.has_max_restarts() ? manifest.max_restarts() : options_.default_max_restarts;
  if (node->restarts >= max_restarts) {
    node->state = NodeState::kRemoving;
    // The crashed driver's children go; the node stays, quarantined.
    RemoveSubtree(node, /*keep_root=*/true, [this, path = node->path(), why] {
      Node* node = topology_.Find(path);
      if (node == nullptr) return;
      node->token.clear();
      node->exposed.clear();
      node->state = NodeState::kQuarantined;
      node->last_error =
          "crashed after " + std::to_string(node->restarts) + " restarts; last: " + why;
      Publish(TopologyEvent::KIND_NODE_QUARANTINED, node, node->last_error);
    });
    return;
  }
  ++node->restarts;
  auto backoff = options_.restart_backoff * (1u << std::min<uint32_t>(node->restarts - 1, 16));
  backoff = std::min(backoff, options_.max_restart_backoff);
  // Not bindable while waiting. The restart removes the whole subtree, so
  // descendants that crashed with it are not restarted on their own (their
  // own restart could race this one's and start a driver twice).
  topology_.PreOrder(node, [](Node* n) { n->state = NodeState::kRemoving; });
  BeginWork();
  auto posted = dispatcher_.PostAfter(backoff, [this, path = node->path()] {
    if (Node* node = topology_.Find(path); node != nullptr && !shutting_down_) RestartInPlace(node);
    EndWork();
  });
  if (!posted) EndWork();
}

void Manager::ReleaseHostIfIdle(const std::string& host_id) {
  auto it = hosts_.find(host_id);
  if (it == hosts_.end() || shutting_down_) return;
  HostRecord& host = *it->second;
  if (!host.nodes.empty() || host.stopping) return;
  if (host.state != host::v1::HOST_STATE_RUNNING || !host.stub) {
    hosts_.erase(it);  // Dead and unused: forget it.
    return;
  }
  host.stopping = true;  // Its exit is then expected, not a crash.
  SendShutdown(host, [] {});
}

void Manager::SendShutdown(HostRecord& host, std::move_only_function<void()> done) {
  host::v1::ShutdownRequest request;
  request.set_deadline_ms(static_cast<uint32_t>(options_.stop_timeout.count()));
  auto* stub = host.stub.get();
  BeginWork();
  rpc::CallAsync<host::v1::ShutdownRequest, host::v1::ShutdownResponse>(
      options_.stop_timeout, std::move(request),
      [stub](auto* ctx, auto* req, auto* resp, auto cb) {
        stub->async()->Shutdown(ctx, req, resp, std::move(cb));
      },
      [this, done = std::move(done)](grpc::Status, host::v1::ShutdownResponse) mutable {
        done();
        EndWork();
      });
}

void Manager::ShutdownAll(std::move_only_function<void()> done) {
  shutting_down_ = true;
  RemoveSubtree(topology_.root(), /*keep_root=*/true, [this, done = std::move(done)]() mutable {
    struct Pending {
      size_t left = 0;
      std::move_only_function<void()> done;
    };
    auto pending = std::make_shared<Pending>();
    pending->done = std::move(done);
    for (auto& [id, host] : hosts_) {
      if (host->state != host::v1::HOST_STATE_RUNNING || !host->stub) continue;
      host->stopping = true;
      ++pending->left;
      SendShutdown(*host, [this, pending] {
        (void)dispatcher_.Post([pending] {
          if (--pending->left == 0) pending->done();
        });
      });
    }
    if (pending->left == 0) pending->done();
  });
}

}  // namespace trellis::manager
