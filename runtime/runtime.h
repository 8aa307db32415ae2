// Runtime: the thread pool and io_uring reactor that dispatchers run on.
// One per process (driver host, manager), or several in tests.
#pragma once

#include <memory>
#include <string>

#include "runtime/error.h"
#include "runtime/reactor.h"
#include "runtime/thread_pool.h"

namespace trellis {

struct RuntimeOptions {
  // Worker threads; 0 means one per CPU.
  size_t threads = 0;
  std::string name = "trellis";
  ReactorOptions reactor;
};

class Runtime {
 public:
  static Result<std::unique_ptr<Runtime>> Create(RuntimeOptions options = {});
  // Stops the reactor (cancelling its operations), then the pool. Every
  // Dispatcher created on this runtime should be shut down first.
  ~Runtime();

  ThreadPool& pool() { return *pool_; }
  Reactor& reactor() { return *reactor_; }

 private:
  Runtime() = default;
  std::unique_ptr<ThreadPool> pool_;
  std::unique_ptr<Reactor> reactor_;
};

}  // namespace trellis
