#include "runtime/host/alarm_service.h"

#include <algorithm>
#include <chrono>
#include <set>

#include "runtime/driver/alarm_protocol.h"
#include "runtime/host/client_token.h"
#include "runtime/host/serving_call.h"
#include "runtime/rpc/finisher.h"
#include "runtime/rpc/server_stream.h"
#include "runtime/rpc/status.h"

namespace trellis::host {

namespace {

using alarm::v1::AlarmFired;
using rpc::StatusOf;
using rpc::ToStatus;
using rpc::UnaryFinisher;

void SetTimestamp(std::chrono::system_clock::time_point at, google::protobuf::Timestamp* out) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count();
  out->set_seconds(ns / 1'000'000'000);
  out->set_nanos(static_cast<int32_t>(ns % 1'000'000'000));
}

}  // namespace

// Adapts a stream of AlarmFired to the driver's Upcall: arg0 is the alarm
// id; the host stamps the wall-clock time it saw the firing. Only the ids
// the client asked for pass, if it asked for some.
class AlarmWatch final : public trellis::Upcall::Sink {
 public:
  AlarmWatch(std::shared_ptr<rpc::ServerStream<AlarmFired>> stream, std::set<uint64_t> only)
      : stream_(std::move(stream)), only_(std::move(only)) {}

  bool Send(uint64_t alarm_id, uint64_t, uint64_t) override {
    if (!only_.empty() && !only_.contains(alarm_id)) return stream_->active();
    AlarmFired fired;
    fired.set_alarm_id(alarm_id);
    SetTimestamp(std::chrono::system_clock::now(), fired.mutable_fired_at());
    return stream_->Send(std::move(fired));
  }
  bool active() const override { return stream_->active(); }
  void Finish(const grpc::Status& status) { stream_->Finish(status); }
  void SendInitialMetadata() { stream_->SendInitialMetadata(); }

 private:
  std::shared_ptr<rpc::ServerStream<AlarmFired>> stream_;
  const std::set<uint64_t> only_;
};

grpc::ServerUnaryReactor* AlarmService::Set(grpc::CallbackServerContext* context,
                                            const alarm::v1::SetAlarmRequest* request,
                                            alarm::v1::SetAlarmResponse* response) {
  return OnServingDriver<AlarmProtocol>(
      *registry_, context,
      [request, response](AlarmProtocol& alarm, const Caller& caller, UnaryFinisher finisher) {
        const auto& after = request->after();
        if (after.seconds() < 0 || after.nanos() < 0) {
          finisher.Finish(
              StatusOf(ErrorCode::kInvalidArgument, "alarm delay must not be negative"));
          return;
        }
        if (after.seconds() >
            std::chrono::duration_cast<std::chrono::seconds>(AlarmProtocol::kMaxDelay).count()) {
          finisher.Finish(StatusOf(
              ErrorCode::kInvalidArgument,
              "alarm delay of " + std::to_string(after.seconds()) + " s is longer than ~10 years"));
          return;
        }
        auto delay =
            std::chrono::seconds(after.seconds()) + std::chrono::nanoseconds(after.nanos());
        auto now = std::chrono::system_clock::now();
        auto id = alarm.SetAlarm(caller, delay, request->wake());
        if (!id) {
          finisher.Finish(ToStatus(id.error()));
          return;
        }
        response->set_alarm_id(*id);
        SetTimestamp(now + std::chrono::duration_cast<std::chrono::system_clock::duration>(delay),
                     response->mutable_deadline());
        finisher.Finish(grpc::Status::OK);
      });
}

grpc::ServerUnaryReactor* AlarmService::Cancel(grpc::CallbackServerContext* context,
                                               const alarm::v1::CancelAlarmRequest* request,
                                               alarm::v1::CancelAlarmResponse*) {
  return OnServingDriver<AlarmProtocol>(
      *registry_, context,
      [request](AlarmProtocol& alarm, const Caller& caller, UnaryFinisher finisher) {
        finisher.Finish(ToStatus(alarm.CancelAlarm(caller, request->alarm_id())));
      });
}

grpc::ServerWriteReactor<AlarmFired>* AlarmService::Watch(
    grpc::CallbackServerContext* context, const alarm::v1::WatchAlarmsRequest* request) {
  auto [reactor, writer] = rpc::ServerStream<AlarmFired>::Create(kMaxPendingFired);
  auto watch = std::make_shared<AlarmWatch>(
      writer, std::set<uint64_t>(request->alarm_ids().begin(), request->alarm_ids().end()));
  auto authorized = registry_->AuthorizeCall(TokenOf(context), AlarmProtocol::kName, context->peer());
  if (!authorized) {
    watch->Finish(ToStatus(authorized.error()));
    return reactor;
  }
  auto [grant, instance] = std::move(*authorized);
  std::shared_ptr<AlarmWatch> previous;
  {
    MutexLock lock(mu_);
    std::erase_if(watches_, [](const auto& entry) { return entry.second.expired(); });
    auto& slot = watches_[{grant.caller.client_id, grant.node_path}];
    previous = slot.lock();
    slot = watch;
  }
  // The previous watch ends only after the driver holds the new one, so no
  // alarm fires into the gap between them.
  auto end_previous = [previous = std::move(previous)] {
    if (previous) previous->Finish(StatusOf(ErrorCode::kAborted, "replaced by a newer Watch"));
  };
  auto posted = instance->dispatcher().Post([watch, instance, path = grant.node_path,
                                             caller = grant.caller, end_previous] {
    auto* protocol =
        static_cast<AlarmProtocol*>(instance->FindProtocol(path, AlarmProtocol::kName));
    if (protocol == nullptr) {
      watch->Finish(StatusOf(ErrorCode::kUnavailable, "the driver no longer serves Alarm"));
    } else if (auto watching = protocol->WatchAlarms(caller, trellis::Upcall(watch)); !watching) {
      watch->Finish(ToStatus(watching.error()));
    } else {
      // Tells a client waiting for it that alarms firing from now on reach it.
      watch->SendInitialMetadata();
    }
    end_previous();
  });
  if (!posted) {
    watch->Finish(StatusOf(ErrorCode::kUnavailable, "the driver stopped"));
    end_previous();
  }
  return reactor;
}

}  // namespace trellis::host
