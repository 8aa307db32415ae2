// ConsoleProtocol: a byte stream to and from a console device, served over
// gRPC as trellis.console.v1.Console for every driver that calls
// DriverContext::Serve<ConsoleProtocol>(*this) (virtio-console does).
//
// The host checks sizes (Write: 1..kMaxWrite bytes) and keeps to one reader
// per console before the driver sees a call. Methods run on the driver's
// dispatcher and return at once.
#pragma once

#include <cstddef>
#include <functional>
#include <string_view>
#include <vector>

#include "runtime/error.h"

namespace trellis {

using ConsoleWriteDone = std::move_only_function<void(Result<void>)>;
// 1 to `max` bytes of input, or why not.
using ConsoleReadDone = std::move_only_function<void(Result<std::vector<std::byte>>)>;

class ConsoleProtocol {
 public:
  static constexpr std::string_view kName = "trellis.console.v1.Console";
  static constexpr size_t kMaxWrite = 1 << 20;

  virtual ~ConsoleProtocol() = default;

  // Writes `data`; `done` runs once the device has taken all of it. Writes
  // go out whole and in the order they came.
  virtual void Write(std::vector<std::byte> data, ConsoleWriteDone done) = 0;

  // Completes with the oldest input not yet read, 1 to `max` bytes, once
  // there is some. Input is consumed only by a Read that completes: until
  // then it stays with the driver (and, when the driver's buffer is full,
  // with the device). One Read at a time: another one while it is pending
  // fails with kFailedPrecondition.
  virtual void Read(size_t max, ConsoleReadDone done) = 0;
  // Completes a pending Read with kCancelled, consuming nothing; no-op
  // without one.
  virtual void CancelRead() = 0;
};

}  // namespace trellis
