// Completer<T>: a callback that runs exactly once (after Fuchsia's
// StartCompleter/PrepareStopCompleter). A completer destroyed without being
// called runs with its "dropped" value, so a driver that forgets to complete
// a lifecycle call fails it instead of hanging the manager.
#pragma once

#include <functional>
#include <utility>

namespace trellis {

template <typename T>
class Completer {
 public:
  Completer() = default;
  Completer(std::move_only_function<void(T)> fn, T if_dropped)
      : fn_(std::move(fn)), if_dropped_(std::move(if_dropped)) {}
  Completer(Completer&&) noexcept = default;
  Completer& operator=(Completer&& other) noexcept {
    if (this != &other) {
      Drop();
      fn_ = std::move(other.fn_);
      if_dropped_ = std::move(other.if_dropped_);
      other.fn_ = nullptr;
    }
    return *this;
  }
  ~Completer() { Drop(); }

  // Completes; later calls are ignored.
  void operator()(T value) {
    if (auto fn = std::exchange(fn_, nullptr)) fn(std::move(value));
  }
  explicit operator bool() const { return static_cast<bool>(fn_); }

 private:
  void Drop() {
    if (auto fn = std::exchange(fn_, nullptr)) fn(std::move(if_dropped_));
  }
  std::move_only_function<void(T)> fn_;
  T if_dropped_{};
};

template <>
class Completer<void> {
 public:
  Completer() = default;
  explicit Completer(std::move_only_function<void()> fn) : fn_(std::move(fn)) {}
  Completer(Completer&&) noexcept = default;
  Completer& operator=(Completer&& other) noexcept {
    if (this != &other) {
      (*this)();
      fn_ = std::exchange(other.fn_, nullptr);
    }
    return *this;
  }
  ~Completer() { (*this)(); }
  void operator()() {
    if (auto fn = std::exchange(fn_, nullptr)) fn();
  }
  explicit operator bool() const { return static_cast<bool>(fn_); }

 private:
  std::move_only_function<void()> fn_;
};

}  // namespace trellis
