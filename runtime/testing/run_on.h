// RunOn: runs a function as a system task of a dispatcher (so it also runs
// while the dispatcher is suspended) and waits for its result.
#pragma once

#include <future>
#include <type_traits>

#include "runtime/dispatcher.h"

namespace trellis::testing {

template <typename Fn>
auto RunOn(UnownedDispatcher dispatcher, Fn fn) -> decltype(fn()) {
  using T = decltype(fn());
  std::promise<T> result;
  (void)dispatcher.PostSystem([&] {
    if constexpr (std::is_void_v<T>) {
      fn();
      result.set_value();
    } else {
      result.set_value(fn());
    }
  });
  return result.get_future().get();
}

}  // namespace trellis::testing
