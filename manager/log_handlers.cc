// DriverManager.ReadLogs: the hosts' recent log (manager/logs), then, when
// asked, every new entry as it comes.
#include "manager/driver_manager_service.h"
#include "manager/manager.h"
#include "power/proto_time.h"
#include "runtime/rpc/status.h"

namespace trellis::manager {

manager::v1::LogEntry Manager::LogEntryToProto(const LogEntry& entry) {
  manager::v1::LogEntry proto;
  proto.set_seq(entry.seq);
  *proto.mutable_time() = power::ToTimestamp(entry.time);
  proto.set_host_id(entry.host);
  proto.set_driver(entry.driver);
  proto.set_node_path(entry.node);
  proto.set_level(entry.level);
  proto.set_text(entry.text);
  return proto;
}

grpc::ServerWriteReactor<v1::LogEntry>* DriverManagerService::ReadLogs(
    grpc::CallbackServerContext*, const v1::ReadLogsRequest* request) {
  auto [reactor, stream] = rpc::ServerStream<v1::LogEntry>::Create();
  LogFilter filter{.node_prefix = request->node_prefix(), .driver = request->driver()};
  auto posted = manager_->dispatcher_.Post(
      [this, stream, filter, last = request->last(), follow = request->follow()] {
        Manager& m = *manager_;
        for (const LogEntry& entry : m.logs_.Last(filter, last)) {
          if (!stream->Send(Manager::LogEntryToProto(entry))) return;
        }
        if (!follow) {
          stream->Close(grpc::Status::OK);  // After the entries.
          return;
        }
        stream->SendInitialMetadata();
        m.log_followers_.push_back({filter, stream});
        // A follower that goes away is forgotten at once, not at the next
        // entry it would have matched.
        stream->OnClosed([this, raw = stream.get()] {
          (void)manager_->dispatcher_.Post([this, raw] {
            std::erase_if(manager_->log_followers_,
                          [raw](const Manager::LogFollower& f) { return f.stream.get() == raw; });
          });
        });
      });
  if (!posted) stream->Finish(rpc::StatusOf(ErrorCode::kUnavailable, kShuttingDown));
  return reactor;
}

}  // namespace trellis::manager
