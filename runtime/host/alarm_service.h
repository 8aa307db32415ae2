// AlarmService: serves trellis.alarm.v1.Alarm to bound clients on the
// host's client socket, for drivers that serve AlarmProtocol. Each call
// carries its Bind token ("trellis-token" metadata); the driver's methods
// run on its dispatcher.
//
// Watch: one stream per (client, node); a newer Watch ends the older one
// with ABORTED. The initial metadata goes out once the driver has the
// watch, so a client that waits for it misses no alarm set afterwards.
#pragma once

#include <map>
#include <memory>
#include <utility>

#include "runtime/host/host_registry.h"
#include "runtime/mutex.h"
#include "trellis/alarm/v1/alarm.grpc.pb.h"

namespace trellis::host {

class AlarmWatch;

class AlarmService final : public trellis::alarm::v1::Alarm::CallbackService {
 public:
  // Fired alarms a client that does not read may fall behind by.
  static constexpr size_t kMaxPendingFired = 1024;

  explicit AlarmService(HostRegistry* registry) : registry_(registry) {}

  grpc::ServerUnaryReactor* Set(grpc::CallbackServerContext* context,
                                const alarm::v1::SetAlarmRequest* request,
                                alarm::v1::SetAlarmResponse* response) override;
  grpc::ServerUnaryReactor* Cancel(grpc::CallbackServerContext* context,
                                   const alarm::v1::CancelAlarmRequest* request,
                                   alarm::v1::CancelAlarmResponse* response) override;
  grpc::ServerWriteReactor<alarm::v1::AlarmFired>* Watch(
      grpc::CallbackServerContext* context, const alarm::v1::WatchAlarmsRequest* request) override;

 private:
  HostRegistry* registry_;
  Mutex mu_;
  std::map<std::pair<uint64_t, std::string>, std::weak_ptr<AlarmWatch>> watches_
      TRELLIS_GUARDED_BY(mu_);
};

}  // namespace trellis::host
