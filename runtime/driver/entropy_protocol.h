// EntropyProtocol: random bytes from a device, served over gRPC as
// trellis.entropy.v1.Entropy for every driver that calls
// DriverContext::Serve<EntropyProtocol>(*this) (virtio-rng does).
//
// The host checks the length (1..kMaxRead) before the driver sees a call.
// Read runs on the driver's dispatcher and returns at once.
#pragma once

#include <cstddef>
#include <functional>
#include <string_view>
#include <vector>

#include "runtime/error.h"

namespace trellis {

// Exactly the bytes asked for, or why not (an I/O error keeps its errno).
using EntropyDone = std::move_only_function<void(Result<std::vector<std::byte>>)>;

class EntropyProtocol {
 public:
  static constexpr std::string_view kName = "trellis.entropy.v1.Entropy";
  static constexpr size_t kMaxRead = 65536;

  virtual ~EntropyProtocol() = default;

  // Gathers `length` bytes (1..kMaxRead) from the device; `done` runs once,
  // on the driver's dispatcher. Reads complete in the order they came.
  virtual void Read(size_t length, EntropyDone done) = 0;
};

}  // namespace trellis
