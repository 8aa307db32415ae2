#include "manager/power_service.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <unistd.h>

#include "manager/manager.h"
#include "runtime/rpc/finisher.h"
#include "runtime/rpc/status.h"

namespace trellis::manager {

namespace {

using rpc::StatusOf;
using rpc::ToStatus;
using rpc::UnaryFinisher;

constexpr size_t kMaxLeaseName = 128;
// Wake leases one client process may hold at once: a leaking client is
// refused (RESOURCE_EXHAUSTED) before it can pin the system awake with
// thousands of streams.
constexpr size_t kMaxLeasesPerClient = 128;
// Suspend blockers in all: each one can hold every suspend up for 5 s.
constexpr size_t kMaxBlockers = 64;

}  // namespace

Result<PeerCredentials> PowerService::AuthorizePower(grpc::CallbackServerContext* context,
                                                     std::string_view what) const {
  if (auto subject = Manager::TlsSubject(context)) {
    const auto& allowed = manager_->options_.tls->power_subjects;
    if (std::find(allowed.begin(), allowed.end(), *subject) != allowed.end()) {
      return PeerCredentials{};  // A remote client: no local pid or uid.
    }
    return Fail(ErrorCode::kPermissionDenied,
                "certificate '" + *subject + "' may not " + std::string(what) +
                    ": it is not among the manager's power subjects (--tls-power-subject)");
  }
  auto peer = manager_->acceptor_->Lookup(context->peer());
  if (!peer) {
    return Fail(ErrorCode::kUnauthenticated,
                std::string(what) + ": the connection's identity is unknown");
  }
  const auto& group = manager_->options_.power_group;
  if (peer->uid == 0 || peer->uid == getuid() || (group && peer->InGroup(*group))) return *peer;
  return Fail(ErrorCode::kPermissionDenied,
              "uid " + std::to_string(peer->uid) + " (pid " + std::to_string(peer->pid) +
                  ") may not " + std::string(what) + ": power operations need root, uid " +
                  std::to_string(getuid()) +
                  (group ? " or group " + std::to_string(*group)
                         : std::string(" (the manager has no --power-group)")));
}

grpc::ServerUnaryReactor* PowerService::Status(grpc::CallbackServerContext* context,
                                               const power::v1::StatusRequest*,
                                               power::v1::StatusResponse* response) {
  auto* reactor = context->DefaultReactor();
  UnaryFinisher finisher(reactor, kShuttingDown);
  (void)manager_->dispatcher_.Post([this, response, finisher = std::move(finisher)]() mutable {
    *response = manager_->governor_->Status();
    finisher.Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* PowerService::Suspend(grpc::CallbackServerContext* context,
                                                const power::v1::SuspendRequest* request,
                                                power::v1::SuspendResponse* response) {
  auto* reactor = context->DefaultReactor();
  UnaryFinisher finisher(reactor, kShuttingDown);
  auto caller = AuthorizePower(context, "suspend the system");
  if (!caller) {
    finisher.Finish(ToStatus(caller.error()));
    return reactor;
  }
  const auto pid = static_cast<uint32_t>(caller->pid);
  (void)manager_->dispatcher_.Post([this, request, response, pid,
                                    finisher = std::move(finisher)]() mutable {
    manager_->governor_->Suspend(
        *request,
        [response, finisher = std::move(finisher)](
            Result<power::v1::SuspendResponse> result) mutable {
          if (!result) {
            finisher.Finish(ToStatus(result.error().WithContext("suspend")));
            return;
          }
          *response = std::move(*result);
          finisher.Finish(grpc::Status::OK);
        },
        pid);
  });
  return reactor;
}

grpc::ServerUnaryReactor* PowerService::Resume(grpc::CallbackServerContext* context,
                                               const power::v1::ResumeRequest* request,
                                               power::v1::ResumeResponse*) {
  auto* reactor = context->DefaultReactor();
  UnaryFinisher finisher(reactor, kShuttingDown);
  if (auto caller = AuthorizePower(context, "resume the system"); !caller) {
    finisher.Finish(ToStatus(caller.error()));
    return reactor;
  }
  (void)manager_->dispatcher_.Post([this, request, finisher = std::move(finisher)]() mutable {
    manager_->governor_->Resume(request->reason());
    finisher.Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerWriteReactor<power::v1::PowerEvent>* PowerService::Watch(
    grpc::CallbackServerContext*, const power::v1::WatchRequest*) {
  auto [reactor, stream] = rpc::ServerStream<power::v1::PowerEvent>::Create();
  auto posted = manager_->dispatcher_.Post([this, stream] {
    // The first event is the current state.
    power::v1::PowerEvent now;
    auto status = manager_->governor_->Status();
    now.set_state(status.state());
    *now.mutable_time() = status.since();
    now.set_detail("current state");
    stream->Send(std::move(now));
    manager_->power_watchers_.push_back(stream);
  });
  if (!posted) stream->Finish(StatusOf(ErrorCode::kUnavailable, kShuttingDown));
  return reactor;
}

grpc::ServerWriteReactor<power::v1::WakeLeaseEvent>* PowerService::AcquireWakeLease(
    grpc::CallbackServerContext* context, const power::v1::AcquireWakeLeaseRequest* request) {
  auto [reactor, stream] = rpc::ServerStream<power::v1::WakeLeaseEvent>::Create();
  auto caller = AuthorizePower(context, "hold a wake lease");
  if (!caller) {
    stream->Finish(ToStatus(caller.error()));
    return reactor;
  }
  if (request->name().empty() || request->name().size() > kMaxLeaseName) {
    stream->Finish(
        StatusOf(ErrorCode::kInvalidArgument,
                 "a wake lease needs a name of 1.." + std::to_string(kMaxLeaseName) + " bytes"));
    return reactor;
  }
  if (request->max_hold().seconds() < 0 || request->max_hold().nanos() < 0) {
    stream->Finish(
        StatusOf(ErrorCode::kInvalidArgument, "a wake lease's max_hold must not be negative"));
    return reactor;
  }
  power::LeaseInfo info{
      .name = request->name(),
      .holder = "client",
      .pid = static_cast<uint32_t>(caller->pid),
      .uid = caller->uid,
      .token = request->token(),
      .parent = request->parent_lease_id(),
      .max_hold = std::chrono::milliseconds(
          google::protobuf::util::TimeUtil::DurationToMilliseconds(request->max_hold()))};
  auto posted = manager_->dispatcher_.Post([this, stream, info = std::move(info)]() mutable {
    if (info.pid != 0 && manager_->governor_->ClientLeasesOf(info.pid) >= kMaxLeasesPerClient) {
      stream->Finish(StatusOf(ErrorCode::kResourceExhausted,
                              "process " + std::to_string(info.pid) + " already holds " +
                                  std::to_string(kMaxLeasesPerClient) +
                                  " wake leases; release one first"));
      return;
    }
    manager_->GrantLeaseOnStream(stream, std::move(info));
  });
  if (!posted) stream->Finish(StatusOf(ErrorCode::kUnavailable, kShuttingDown));
  return reactor;
}

grpc::ServerUnaryReactor* PowerService::ListLeases(grpc::CallbackServerContext* context,
                                                   const power::v1::ListLeasesRequest*,
                                                   power::v1::ListLeasesResponse* response) {
  auto* reactor = context->DefaultReactor();
  UnaryFinisher finisher(reactor, kShuttingDown);
  (void)manager_->dispatcher_.Post([this, response, finisher = std::move(finisher)]() mutable {
    *response = manager_->governor_->Leases();
    finisher.Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerWriteReactor<power::v1::SuspendBlockerEvent>* PowerService::RegisterSuspendBlocker(
    grpc::CallbackServerContext* context, const power::v1::RegisterSuspendBlockerRequest* request) {
  using google::protobuf::util::TimeUtil;
  auto [reactor, stream] = rpc::ServerStream<power::v1::SuspendBlockerEvent>::Create();
  auto caller = AuthorizePower(context, "register a suspend blocker");
  if (!caller) {
    stream->Finish(ToStatus(caller.error()));
    return reactor;
  }
  if (request->name().empty() || request->name().size() > kMaxLeaseName) {
    stream->Finish(StatusOf(ErrorCode::kInvalidArgument, "a suspend blocker needs a name of 1.." +
                                                             std::to_string(kMaxLeaseName) +
                                                             " bytes"));
    return reactor;
  }
  if (TimeUtil::DurationToNanoseconds(request->deadline()) < 0) {
    stream->Finish(StatusOf(ErrorCode::kInvalidArgument,
                            "a suspend blocker's deadline must not be negative"));
    return reactor;
  }
  power::SuspendBlockers::Info info{
      .name = request->name(),
      .deadline = std::chrono::milliseconds(TimeUtil::DurationToMilliseconds(request->deadline()))};
  info.pid = static_cast<uint32_t>(caller->pid);
  auto posted = manager_->dispatcher_.Post([this, stream, info = std::move(info)]() mutable {
    auto& blockers = manager_->governor_->blockers();
    if (blockers.size() >= kMaxBlockers) {
      stream->Finish(StatusOf(ErrorCode::kResourceExhausted,
                              std::to_string(kMaxBlockers) + " suspend blockers are registered, "
                                                             "the most there may be"));
      return;
    }
    uint64_t id = blockers.Add(std::move(info), [stream](const power::v1::SuspendBlockerEvent& e) {
      return stream->Send(e);
    });
    // Closing, cancelling or dying unregisters it (a pending
    // acknowledgement counts as given).
    stream->OnClosed([this, id] {
      (void)manager_->dispatcher_.Post([this, id] { manager_->governor_->blockers().Remove(id); });
    });
  });
  if (!posted) stream->Finish(StatusOf(ErrorCode::kUnavailable, kShuttingDown));
  return reactor;
}

grpc::ServerUnaryReactor* PowerService::AckSuspendBlocker(
    grpc::CallbackServerContext* context, const power::v1::AckSuspendBlockerRequest* request,
    power::v1::AckSuspendBlockerResponse*) {
  auto* reactor = context->DefaultReactor();
  UnaryFinisher finisher(reactor, kShuttingDown);
  auto caller = AuthorizePower(context, "acknowledge a suspend blocker event");
  if (!caller) {
    finisher.Finish(ToStatus(caller.error()));
    return reactor;
  }
  const auto pid = static_cast<uint32_t>(caller->pid);
  (void)manager_->dispatcher_.Post([this, request, pid, finisher = std::move(finisher)]() mutable {
    auto acked =
        manager_->governor_->blockers().Ack(request->blocker_id(), request->seq(), pid);
    finisher.Finish(acked ? grpc::Status::OK : ToStatus(acked.error()));
  });
  return reactor;
}

grpc::ServerUnaryReactor* PowerService::HandOffWakeLease(
    grpc::CallbackServerContext* context, const power::v1::HandOffWakeLeaseRequest* request,
    power::v1::HandOffWakeLeaseResponse* response) {
  auto* reactor = context->DefaultReactor();
  UnaryFinisher finisher(reactor, kShuttingDown);
  auto caller = AuthorizePower(context, "hand off a wake lease");
  if (!caller) {
    finisher.Finish(ToStatus(caller.error()));
    return reactor;
  }
  const auto pid = static_cast<uint32_t>(caller->pid);
  if (request->deadline().seconds() < 0 || request->deadline().nanos() < 0) {
    finisher.Finish(StatusOf(ErrorCode::kInvalidArgument, "a hand-off deadline must not be negative"));
    return reactor;
  }
  (void)manager_->dispatcher_.Post(
      [this, request, response, pid, finisher = std::move(finisher)]() mutable {
        auto completed = manager_->governor_->HandOffLease(
            request->lease_id(), request->token(), pid,
            std::chrono::milliseconds(
                google::protobuf::util::TimeUtil::DurationToMilliseconds(request->deadline())));
        if (!completed) {
          finisher.Finish(ToStatus(completed.error()));
          return;
        }
        response->set_completed(*completed);
        finisher.Finish(grpc::Status::OK);
      });
  return reactor;
}

grpc::ServerUnaryReactor* PowerService::CancelSuspend(grpc::CallbackServerContext* context,
                                                      const power::v1::CancelSuspendRequest*,
                                                      power::v1::CancelSuspendResponse*) {
  auto* reactor = context->DefaultReactor();
  UnaryFinisher finisher(reactor, kShuttingDown);
  auto caller = AuthorizePower(context, "cancel a queued suspend");
  if (!caller) {
    finisher.Finish(ToStatus(caller.error()));
    return reactor;
  }
  const auto pid = static_cast<uint32_t>(caller->pid);
  (void)manager_->dispatcher_.Post([this, pid, finisher = std::move(finisher)]() mutable {
    finisher.Finish(ToStatus(manager_->governor_->CancelQueued(
        pid != 0 ? "process " + std::to_string(pid) : std::string("a client"))));
  });
  return reactor;
}

grpc::ServerUnaryReactor* PowerService::PlanSuspend(grpc::CallbackServerContext* context,
                                                    const power::v1::PlanSuspendRequest*,
                                                    power::v1::SuspendPlan* response) {
  auto* reactor = context->DefaultReactor();
  UnaryFinisher finisher(reactor, kShuttingDown);
  (void)manager_->dispatcher_.Post([this, response, finisher = std::move(finisher)]() mutable {
    *response = manager_->governor_->Plan();
    finisher.Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* PowerService::Stats(grpc::CallbackServerContext* context,
                                              const power::v1::StatsRequest*,
                                              power::v1::StatsResponse* response) {
  auto* reactor = context->DefaultReactor();
  UnaryFinisher finisher(reactor, kShuttingDown);
  (void)manager_->dispatcher_.Post([this, response, finisher = std::move(finisher)]() mutable {
    *response->mutable_stats() = manager_->governor_->Stats();
    finisher.Finish(grpc::Status::OK);
  });
  return reactor;
}

}  // namespace trellis::manager
