// JoinAfter: the completion of N parallel steps. Each step is handed a copy
// of the returned callable and calls it once when it ends; the last call
// runs `then`. The manager's walks (stopping a subtree's children,
// removing a parent's composites, unbinding a driver's nodes) fan out this
// way. The count is not locked: every call runs on the manager's
// dispatcher.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>

namespace trellis::manager {

// A callable that runs `then` on its `count`-th call; with `count` 0,
// `then` runs at once and the callable does nothing.
inline std::function<void()> JoinAfter(size_t count, std::move_only_function<void()> then) {
  if (count == 0) {
    then();
    return [] {};
  }
  struct Join {
    size_t left;
    std::move_only_function<void()> then;
  };
  auto join = std::make_shared<Join>(Join{count, std::move(then)});
  return [join] {
    if (--join->left == 0) join->then();
  };
}

}  // namespace trellis::manager
