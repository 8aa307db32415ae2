// DriverManager: class discovery (ListClass, WatchClass), after Fuchsia's
// /dev/class: clients find "the first Block device" without knowing the
// topology, and see devices come and go.
#include "manager/driver_manager_service.h"
#include "manager/manager.h"
#include "runtime/rpc/finisher.h"
#include "runtime/rpc/status.h"

namespace trellis::manager {

namespace {

// Each watch holds a stream; a client that opens thousands is refused.
constexpr size_t kMaxClassWatchers = 256;

}  // namespace

grpc::ServerUnaryReactor* DriverManagerService::ListClass(grpc::CallbackServerContext* context,
                                                         const v1::ListClassRequest* request,
                                                         v1::ListClassResponse* response) {
  auto* reactor = context->DefaultReactor();
  rpc::UnaryFinisher finisher(reactor, kShuttingDown);
  (void)manager_->dispatcher_.Post([this, request, response,
                                    finisher = std::move(finisher)]() mutable {
    for (auto& instance : manager_->classes_.List(request->class_name())) {
      *response->add_instances() = std::move(instance);
    }
    finisher.Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerWriteReactor<v1::ClassEvent>* DriverManagerService::WatchClass(
    grpc::CallbackServerContext*, const v1::WatchClassRequest* request) {
  auto [reactor, stream] = rpc::ServerStream<v1::ClassEvent>::Create();
  auto posted = manager_->dispatcher_.Post([this, stream, class_name = request->class_name()] {
    Manager& m = *manager_;
    std::erase_if(m.class_watchers_, [](const auto& w) { return !w.stream->active(); });
    if (m.class_watchers_.size() >= kMaxClassWatchers) {
      stream->Finish(rpc::StatusOf(ErrorCode::kResourceExhausted,
                                   std::to_string(kMaxClassWatchers) +
                                       " class watches are open, the most there may be"));
      return;
    }
    // What is there now, then every change: both from this task, so nothing
    // falls between. The metadata first: a client that waits for it is
    // registered.
    stream->SendInitialMetadata();
    for (auto& instance : m.classes_.List(class_name)) {
      v1::ClassEvent event;
      event.set_kind(v1::ClassEvent::KIND_ARRIVED);
      event.set_existing(true);
      *event.mutable_instance() = std::move(instance);
      stream->Send(std::move(event));
    }
    m.class_watchers_.push_back({class_name, stream});
  });
  if (!posted) {
    stream->Finish(rpc::StatusOf(ErrorCode::kUnavailable, kShuttingDown));
  }
  return reactor;
}

}  // namespace trellis::manager
