#include "virtio/driver/node_options.h"

namespace trellis::virtio {

Result<VirtioNodeOptions> ParseVirtioNodeOptions(const NodeProperties& props,
                                                 uint16_t default_queue_size) {
  VirtioNodeOptions o;
  TRELLIS_ASSIGN_OR_RETURN(o.socket, PropertyOr<std::string>(props, "virtio.socket", ""));
  if (o.socket.empty()) {
    return Fail(ErrorCode::kInvalidArgument, "the node has no 'virtio.socket' property");
  }
  TRELLIS_ASSIGN_OR_RETURN(uint64_t size,
                           PropertyOr<uint64_t>(props, "virtio.queue_size", default_queue_size));
  if (size < 4 || size > 1024 || (size & (size - 1)) != 0) {
    return Fail(ErrorCode::kInvalidArgument,
                "virtio.queue_size " + std::to_string(size) + " is not a power of two in 4..1024");
  }
  o.queue_size = static_cast<uint16_t>(size);
  TRELLIS_ASSIGN_OR_RETURN(uint64_t ms, PropertyOr<uint64_t>(props, "virtio.timeout_ms", 5000));
  if (ms < 10 || ms > 600'000) {
    return Fail(ErrorCode::kInvalidArgument,
                "virtio.timeout_ms " + std::to_string(ms) + " is outside 10..600000");
  }
  o.timeout = std::chrono::milliseconds(ms);
  return o;
}

}  // namespace trellis::virtio
