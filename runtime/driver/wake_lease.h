// WakeLease: an RAII token that keeps the system from suspending while it is
// held (after Fuchsia's wake lease eventpair). Move-only; destroying or
// Release()-ing it drops the lease.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace trellis {

class WakeLease {
 public:
  // What backs a lease; implemented by the host (a stream to the manager).
  // Its destructor releases the lease.
  class Holder {
   public:
    virtual ~Holder() = default;
    virtual uint64_t id() const = 0;
    virtual std::string_view name() const = 0;
  };

  WakeLease() = default;
  explicit WakeLease(std::unique_ptr<Holder> holder) : holder_(std::move(holder)) {}
  WakeLease(WakeLease&&) noexcept = default;
  WakeLease& operator=(WakeLease&&) noexcept = default;

  explicit operator bool() const { return holder_ != nullptr; }
  uint64_t id() const { return holder_ ? holder_->id() : 0; }
  std::string_view name() const { return holder_ ? holder_->name() : std::string_view(); }
  // Drops the lease now.
  void Release() { holder_.reset(); }

 private:
  std::unique_ptr<Holder> holder_;
};

}  // namespace trellis
