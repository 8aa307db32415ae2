#include "runtime/dispatcher.h"

#include "runtime/internal/dispatcher_core.h"
#include "runtime/reactor.h"
#include "runtime/runtime.h"

namespace trellis {

UnownedDispatcher UnownedDispatcher::Current() {
  internal::DispatcherCore* core = internal::DispatcherCore::Current();
  return core ? UnownedDispatcher(core->shared_from_this()) : UnownedDispatcher();
}

std::string_view UnownedDispatcher::name() const { return core_->name(); }
bool UnownedDispatcher::power_managed() const { return core_->power_managed(); }

Result<void> UnownedDispatcher::Post(Task task) const { return core_->Post(std::move(task)); }

Result<void> UnownedDispatcher::PostAt(Clock::time_point deadline, Task task) const {
  return core_->PostAt(deadline, std::move(task));
}

Result<void> UnownedDispatcher::RunOrPost(Task task) const {
  if (internal::DispatcherCore::Current() == nullptr && core_->TryEnterInline()) {
    // The task may destroy this handle (and its owner); the visit keeps
    // the core alive until it has settled.
    auto core = core_;
    // What the visit submits to io_uring goes in at its end, together.
    Reactor::SubmitBatch batch(core->reactor());
    task();
    task = nullptr;  // Captures die inside the visit, like a posted task's.
    // What the task posted here runs here too, for a few rounds: a foreign
    // thread that found the dispatcher idle carries its follow-ups.
    core->ExitInline(internal::DispatcherCore::kMaxRounds);
    return Ok();
  }
  return core_->Post(std::move(task));
}

Result<void> UnownedDispatcher::PostSystem(Task task) const {
  return core_->PostSystem(std::move(task));
}

Result<void> UnownedDispatcher::Suspend(std::move_only_function<void()> on_suspended) const {
  return core_->Suspend(std::move(on_suspended));
}

Result<void> UnownedDispatcher::Resume(Task wake_task) const {
  return core_->Resume(std::move(wake_task));
}

Result<void> UnownedDispatcher::Shutdown(std::move_only_function<void()> observer) const {
  return core_->Shutdown(std::move(observer));
}

bool UnownedDispatcher::is_shut_down() const { return core_->is_shut_down(); }
bool UnownedDispatcher::is_suspended() const { return core_->is_suspended(); }

Dispatcher Dispatcher::Create(Runtime& runtime, DispatcherOptions options) {
  return Dispatcher(std::make_shared<internal::DispatcherCore>(
      &runtime.pool(), &runtime.reactor(), std::move(options.name), options.power_managed));
}

Dispatcher& Dispatcher::operator=(Dispatcher&& other) noexcept {
  if (this != &other) {
    if (core_ && !core_->is_shut_down()) (void)core_->Shutdown(nullptr);
    core_ = std::move(other.core_);
  }
  return *this;
}

Dispatcher::~Dispatcher() {
  if (core_ && !core_->is_shut_down()) (void)core_->Shutdown(nullptr);
}

}  // namespace trellis
