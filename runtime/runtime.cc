#include "runtime/runtime.h"

#include <thread>

namespace trellis {

Result<std::unique_ptr<Runtime>> Runtime::Create(RuntimeOptions options) {
  std::unique_ptr<Runtime> runtime(new Runtime());
  TRELLIS_ASSIGN_OR_RETURN(runtime->reactor_, Reactor::Create(options.reactor));
  size_t threads = options.threads != 0 ? options.threads : std::thread::hardware_concurrency();
  runtime->pool_ = std::make_unique<ThreadPool>(threads, options.name);
  // Pool workers defer their submissions to the end of each turn.
  runtime->reactor_->SetDeferPredicate(
      [](const void* pool) { return static_cast<const ThreadPool*>(pool)->IsWorkerThread(); },
      runtime->pool_.get());
  Reactor* reactor = runtime->reactor_.get();
  runtime->pool_->SetTurnEndHook([reactor] { reactor->Flush(); });
  return runtime;
}

Runtime::~Runtime() {
  // Order matters: the reactor delivers completions onto the pool, and the
  // pool's turn-end hook flushes the reactor's ring.
  if (reactor_) reactor_->Stop();
  pool_.reset();
  reactor_.reset();
}

}  // namespace trellis
