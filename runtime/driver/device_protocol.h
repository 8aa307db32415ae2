// DeviceProtocol: the generic Device protocol after Tock's kernel Driver
// trait (seed 001): Command, Subscribe and Allow, addressed by minor number.
//
// The host serves it over gRPC (trellis.device.v1.Device) for every driver
// that calls DriverContext::Serve(*this). Every method runs on the driver's
// dispatcher and must return quickly: long work is started by a command and
// reported through a subscription's Upcall. Methods a driver does not
// override answer UNIMPLEMENTED (Tock's NOSUPPORT), never an empty success.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "runtime/driver/allowed_buffer.h"
#include "runtime/error.h"

namespace trellis {

// Who is calling: a bound client, identified by the manager at Bind time.
struct Caller {
  uint64_t client_id = 0;  // Stable for one binding (token).
  uid_t uid = 0;
  gid_t gid = 0;
  pid_t pid = 0;
};

// A handle on one client's subscription to one minor. Copyable; the host
// ends it when the client goes away or subscribes again to the same minor.
class Upcall {
 public:
  class Sink {
   public:
    virtual ~Sink() = default;
    // Sends one upcall; false once the subscription has ended.
    virtual bool Send(uint64_t arg0, uint64_t arg1, uint64_t arg2) = 0;
    virtual bool active() const = 0;
  };

  Upcall() = default;
  explicit Upcall(std::shared_ptr<Sink> sink) : sink_(std::move(sink)) {}

  // Queues an upcall to the client. Never blocks.
  // Errors: kFailedPrecondition once the subscription has ended.
  Result<void> Schedule(uint64_t arg0 = 0, uint64_t arg1 = 0, uint64_t arg2 = 0) const {
    if (!sink_ || !sink_->Send(arg0, arg1, arg2)) {
      return Fail(ErrorCode::kFailedPrecondition, "the subscription has ended");
    }
    return Ok();
  }
  bool active() const { return sink_ && sink_->active(); }

 private:
  std::shared_ptr<Sink> sink_;
};

class DeviceProtocol {
 public:
  static constexpr std::string_view kName = "trellis.device.v1.Device";

  virtual ~DeviceProtocol() = default;

  // Performs a short synchronous action. Minor 0 is the presence check: it
  // must succeed with a value >= 0 and have no side effect.
  virtual Result<int64_t> Command(const Caller& caller, uint32_t minor, uint64_t arg1,
                                  uint64_t arg2) = 0;

  // Registers `upcall` for (caller, minor), replacing that caller's previous
  // one. The host has already ended the previous gRPC stream.
  virtual Result<void> Subscribe(const Caller& caller, uint32_t minor, Upcall upcall) {
    (void)caller;
    (void)upcall;
    return Fail(ErrorCode::kUnimplemented,
                "subscribe is not supported for minor " + std::to_string(minor));
  }

  // What Allow answers: the buffer it hands back, and a value (0 unless the
  // driver gives allowing a meaning, such as the ipc driver's discovery).
  struct AllowResult {
    AllowedBuffer previous;
    int64_t value = 0;
  };

  // Lends `buffer` to the driver for (caller, minor, read_only) and takes
  // back the one it replaces: exactly the buffer the host lent for that
  // slot before, or an empty one if none (the host checks, and fails the
  // call with INTERNAL otherwise). An empty `buffer` un-allows. On error the
  // slot keeps its buffer and `buffer` is dropped. The host also un-allows a
  // client's slots when its token is revoked or its process exits.
  virtual Result<AllowResult> Allow(const Caller& caller, uint32_t minor, bool read_only,
                                    AllowedBuffer buffer) {
    (void)caller;
    (void)read_only;
    (void)buffer;
    return Fail(ErrorCode::kUnimplemented,
                "allow is not supported for minor " + std::to_string(minor));
  }
};

}  // namespace trellis
