// Task and Clock: the unit of work dispatchers run, and the clock deadlines use.
#pragma once

#include <chrono>
#include <functional>

namespace trellis {

// A unit of work. Move-only, so tasks may own buffers and handles.
using Task = std::move_only_function<void()>;

// Every deadline in the runtime is on the monotonic clock.
using Clock = std::chrono::steady_clock;

}  // namespace trellis
