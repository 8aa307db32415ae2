// Test helpers for waiting on asynchronous results without hanging a test:
// a wait that times out fails the test instead of blocking ctest.
#pragma once

#include <chrono>
#include <future>

namespace trellis::testing {

// Generous: reached only when the behaviour under test is broken.
inline constexpr std::chrono::seconds kTestTimeout{20};

template <typename T>
[[nodiscard]] bool WaitFor(const std::future<T>& f,
                           std::chrono::milliseconds timeout = kTestTimeout) {
  return f.wait_for(timeout) == std::future_status::ready;
}

template <typename T>
[[nodiscard]] bool WaitFor(std::future<T>&& f, std::chrono::milliseconds timeout = kTestTimeout) {
  return f.wait_for(timeout) == std::future_status::ready;
}

}  // namespace trellis::testing
